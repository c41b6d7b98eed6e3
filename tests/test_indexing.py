"""Incremental indexing and hybrid retrieval with a fake embedder and the real FAISS and BM25."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import FakeEmbedder

from rag import indexing, store
from rag.config import Settings
from rag.errors import IndexIncompatibleError
from rag.retrieve import Retriever

DOCS = {
    "ngan-sach.txt": "Dự toán ngân sách nhà nước năm 2024 được Quốc hội thông qua.\nTổng thu ngân sách tăng mạnh.",
    "giao-thong.txt": "Dự án cao tốc Bắc Nam có vốn đầu tư lớn.\nTuyến cao tốc đi qua nhiều tỉnh.",
    "giao-duc.txt": "Chương trình giáo dục phổ thông mới được triển khai.\nHọc sinh học sách giáo khoa mới.",
}


@pytest.fixture
def corpus(isolated: Path) -> Path:
    folder = isolated / "docs"
    folder.mkdir()
    for name, text in DOCS.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def settings(home: Path, **overrides: object) -> Settings:
    return Settings(home=home, chunk_tokens=40, chunk_overlap=5, **overrides)  # type: ignore[arg-type]


def test_first_run_indexes_everything_and_a_second_run_nothing(corpus: Path) -> None:
    embedder = FakeEmbedder()
    first = indexing.update([corpus], embedder, settings(corpus.parent))
    assert sorted(first.added) == ["docs/giao-duc.txt", "docs/giao-thong.txt", "docs/ngan-sach.txt"]
    assert first.written and first.embedded == first.total_chunks == len(embedder.embedded) == 3
    live = (corpus.parent / "data" / "index").resolve()

    again = indexing.update([corpus], embedder, settings(corpus.parent))
    assert (again.written, again.embedded, len(again.unchanged)) == (False, 0, 3)
    assert len(embedder.embedded) == 3 and (corpus.parent / "data" / "index").resolve() == live


def test_a_killed_runs_folder_is_removed_by_a_run_with_nothing_to_write(corpus: Path) -> None:
    """A run killed after swapping the link leaves the previous folder; the next run removes it (found by the
    SIGKILL trials of tests/reliability)."""
    indexing.update([corpus], FakeEmbedder(), settings(corpus.parent))
    index_dir = corpus.parent / "data" / "index"
    left = index_dir.parent / ".index-left-by-a-killed-run"
    left.mkdir()
    (left / "vectors.npy").write_bytes(b"old")
    again = indexing.update([corpus], FakeEmbedder(), settings(corpus.parent))
    assert not again.written and not left.exists()
    assert [p.name for p in index_dir.parent.glob(".index-*")] == [index_dir.resolve().name]


def test_a_changed_document_is_the_only_one_embedded_again(corpus: Path) -> None:
    embedder = FakeEmbedder()
    indexing.update([corpus], embedder, settings(corpus.parent))
    (corpus / "giao-thong.txt").write_text("Dự án đường sắt tốc độ cao được nghiên cứu.", encoding="utf-8")
    report = indexing.update([corpus], embedder, settings(corpus.parent))
    assert report.changed == ["docs/giao-thong.txt"] and len(report.unchanged) == 2
    assert embedder.embedded[-1].endswith("Dự án đường sắt tốc độ cao được nghiên cứu.")
    assert len(embedder.embedded) == 4
    index = store.load(corpus.parent / "data" / "index")
    assert "cao tốc" not in " ".join(c.text for c in index.chunks)


def test_removed_documents_are_kept_until_pruned(corpus: Path) -> None:
    embedder = FakeEmbedder()
    indexing.update([corpus], embedder, settings(corpus.parent))
    (corpus / "giao-duc.txt").unlink()
    kept = indexing.update([corpus], embedder, settings(corpus.parent))
    assert kept.kept == ["docs/giao-duc.txt"] and not kept.written
    pruned = indexing.update([corpus], embedder, settings(corpus.parent), prune=True)
    assert pruned.removed == ["docs/giao-duc.txt"] and pruned.embedded == 0
    index = store.load(corpus.parent / "data" / "index")
    assert sorted(index.documents) == ["docs/giao-thong.txt", "docs/ngan-sach.txt"]
    hits = Retriever(index, embedder).search("giáo dục phổ thông", k=5)
    assert all(h.chunk.doc_id != "docs/giao-duc.txt" for h in hits)


def test_indexing_one_more_file_adds_to_the_index(corpus: Path, tmp_path: Path) -> None:
    embedder = FakeEmbedder()
    indexing.update([corpus], embedder, settings(corpus.parent))
    extra = corpus.parent / "extra.md"
    extra.write_text("# Y tế\n\nBệnh viện tuyến tỉnh được nâng cấp.", encoding="utf-8")
    report = indexing.update([extra], embedder, settings(corpus.parent))
    assert report.added == ["extra.md"] and len(report.kept) == 3 and report.embedded == 1


def test_changed_settings_rebuild_everything_and_say_why(corpus: Path) -> None:
    embedder = FakeEmbedder()
    indexing.update([corpus], embedder, settings(corpus.parent))
    report = indexing.update([corpus], embedder, Settings(home=corpus.parent, chunk_tokens=60, chunk_overlap=5))
    assert report.rebuild_reason is not None and "chunk_tokens: 40 → 60" in report.rebuild_reason
    assert report.embedded == 3 and sorted(report.unchanged) == sorted(f"docs/{n}" for n in DOCS)
    other = FakeEmbedder(fingerprint="fake-2")
    report = indexing.update([corpus], other, settings(corpus.parent))
    assert "embedder_fingerprint: 'fake-1' → 'fake-2'" in (report.rebuild_reason or "")


def test_skipped_files_are_reported_and_the_rest_indexed(corpus: Path) -> None:
    (corpus / "bang.xlsx").write_bytes(b"PK")
    report = indexing.update([corpus], FakeEmbedder(), settings(corpus.parent))
    assert [Path(s.path).name for s in report.skipped] == ["bang.xlsx"] and len(report.added) == 3


def test_hybrid_search_filter_and_incompatible_embedder(corpus: Path) -> None:
    embedder = FakeEmbedder()
    indexing.update([corpus], embedder, settings(corpus.parent))
    index = store.load(corpus.parent / "data" / "index")
    retriever = Retriever(index, embedder)
    hits = retriever.search("vốn đầu tư cao tốc", k=3)
    assert hits[0].chunk.doc_id == "docs/giao-thong.txt"
    assert hits[0].score == pytest.approx(1.0) and hits[0].lexical > 0 and hits[0].dense > 0
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    only = retriever.search("vốn đầu tư cao tốc", k=3, doc_ids={"docs/giao-duc.txt"})
    assert {h.chunk.doc_id for h in only} <= {"docs/giao-duc.txt"}
    assert len(Retriever(index, embedder, fusion="rrf").search("ngân sách", k=2)) == 2
    assert retriever.search("   ") == []
    with pytest.raises(IndexIncompatibleError, match="rag index --rebuild"):
        Retriever(index, FakeEmbedder(fingerprint="other"))


def test_a_rebuild_keeps_documents_from_earlier_runs(corpus: Path) -> None:
    embedder = FakeEmbedder()
    indexing.update([corpus], embedder, settings(corpus.parent))
    extra = corpus.parent / "extra.txt"
    extra.write_text("Bệnh viện tuyến tỉnh được nâng cấp.", encoding="utf-8")
    report = indexing.update([extra], embedder, Settings(home=corpus.parent, chunk_tokens=60, chunk_overlap=5))
    assert report.rebuild_reason and report.added == ["extra.txt"] and len(report.kept) == 3
    assert len(store.load(corpus.parent / "data" / "index").documents) == 4


def test_prune_only_drops_documents_under_the_given_paths(corpus: Path) -> None:
    embedder = FakeEmbedder()
    indexing.update([corpus], embedder, settings(corpus.parent))
    other = corpus.parent / "other"
    other.mkdir()
    (other / "a.txt").write_text("Một văn bản khác hẳn.", encoding="utf-8")
    report = indexing.update([other], embedder, settings(corpus.parent), prune=True)
    assert report.removed == [] and len(report.kept) == 3 and report.added == ["other/a.txt"]


def test_nothing_to_index_is_an_error_and_an_empty_path_changes_nothing(corpus: Path) -> None:
    from rag.errors import NothingToIndexError

    with pytest.raises(NothingToIndexError, match="found no document"):
        indexing.update([corpus.parent / "sede"], FakeEmbedder(), settings(corpus.parent))
    indexing.update([corpus], FakeEmbedder(), settings(corpus.parent))
    report = indexing.update([corpus.parent / "sede"], FakeEmbedder(), settings(corpus.parent))
    assert not report.written and len(report.kept) == 3


def test_filtered_search_finds_a_document_outside_the_global_top(corpus: Path) -> None:
    embedder = FakeEmbedder()
    for i in range(60):  # more chunks than the retriever's candidate pool
        (corpus / f"ngan-sach-{i}.txt").write_text(f"Ngân sách nhà nước năm {2000 + i} được thông qua.", "utf-8")
    indexing.update([corpus], embedder, settings(corpus.parent))
    retriever = Retriever(store.load(corpus.parent / "data" / "index"), embedder, candidates=10)
    hits = retriever.search("ngân sách nhà nước", k=3, doc_ids={"docs/giao-duc.txt"})
    assert [h.chunk.doc_id for h in hits] == ["docs/giao-duc.txt"]


def test_query_is_normalised_like_the_documents(corpus: Path) -> None:
    embedder = FakeEmbedder()
    (corpus / "hoa-binh.txt").write_text("Hòa bình và hữu nghị giữa các dân tộc.", encoding="utf-8")
    indexing.update([corpus], embedder, settings(corpus.parent))
    retriever = Retriever(store.load(corpus.parent / "data" / "index"), embedder)
    assert retriever.search("hoà\u200b bình", k=1)[0].chunk.doc_id == "docs/hoa-binh.txt"
    assert embedder.queries[-1] == "hòa bình"  # the embedder saw the normalised question


def test_new_bm25_terms_rewrite_the_index_without_embedding(corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    embedder = FakeEmbedder()
    indexing.update([corpus], embedder, settings(corpus.parent))
    monkeypatch.setattr(indexing, "LEXICAL_VERSION", indexing.LEXICAL_VERSION + 1)  # as after an upgrade
    report = indexing.update([corpus], embedder, settings(corpus.parent))
    assert report.written and report.rebuild_reason is None and report.embedded == 0 and len(embedder.embedded) == 3
    index = store.load(corpus.parent / "data" / "index")
    assert index.settings.lexical_version == indexing.LEXICAL_VERSION
    again = indexing.update([corpus], embedder, settings(corpus.parent))
    assert not again.written

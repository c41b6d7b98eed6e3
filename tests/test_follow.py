"""The running app follows the index: a replacement made by `rag index` (the link swap) is loaded between
questions, one answer never mixes two indexes, and a removed document stays removed when its folder is indexed
again (unless `restore` is asked for; an upload of it is such a request)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from conftest import CHECKS_ONLY, Echo, FakeEmbedder

from rag import indexing, store
from rag.config import Settings
from rag.library import Library
from rag.pipeline import Pipeline
from rag.retrieve import Retriever
from rag.types import Answer

HUE = "Thành phố Huế\n\nThành phố Huế có 11 cây cầu bắc qua sông Hương."
VINH = "Thành phố Vinh\n\nThành phố Vinh có 12 cây cầu bắc qua sông Lam."


def folder(home: Path) -> tuple[Path, Settings]:
    docs = home / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    (docs / "hue.txt").write_text(HUE, encoding="utf-8")
    return docs, Settings(home=home, index_dir=Path("index"), n_threads=1)


def found(retriever: Retriever, query: str) -> set[str]:
    return {hit.chunk.doc_id for hit in retriever.search(query, k=5)}


def test_a_replaced_index_is_loaded_between_questions(tmp_path: Path) -> None:
    docs, settings = folder(tmp_path)
    embedder = FakeEmbedder()
    indexing.update([docs], embedder, settings)
    retriever = Retriever(store.load(settings.index_path), embedder, follow=store.FileStore(settings.index_path))
    before = retriever.current()
    assert retriever.current().index is before.index  # nothing replaced: nothing loaded again
    (docs / "vinh.txt").write_text(VINH, encoding="utf-8")
    indexing.update([docs], embedder, settings)  # what `rag index` in another process does
    assert found(before, "Vinh sông Lam") == {"docs/hue.txt"}  # a view keeps the index it was given
    assert found(retriever.current(), "Vinh sông Lam") >= {"docs/vinh.txt"}


def test_a_replacement_that_cannot_be_used_is_logged_and_the_index_in_use_kept(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    docs, settings = folder(tmp_path)
    indexing.update([docs], FakeEmbedder(), settings)
    retriever = Retriever(store.load(settings.index_path), FakeEmbedder(), follow=store.FileStore(settings.index_path))
    (docs / "vinh.txt").write_text(VINH, encoding="utf-8")
    indexing.update([docs], FakeEmbedder(fingerprint="another-model"), settings)  # built with another embedder
    with caplog.at_level(logging.WARNING, logger="rag.retrieve"):
        assert found(retriever.current(), "Vinh sông Lam") == {"docs/hue.txt"}
        retriever.current()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "the new one is not used" in warnings[0]  # tried once, not at every question


def test_an_answer_under_way_keeps_its_index_and_the_next_one_sees_the_new_index(tmp_path: Path) -> None:
    docs, settings = folder(tmp_path)
    embedder = FakeEmbedder()
    indexing.update([docs], embedder, settings)
    retriever = Retriever(store.load(settings.index_path), embedder, follow=store.FileStore(settings.index_path))
    pipeline = Pipeline(retriever, Echo(), abstain_below=0.0, confidence=CHECKS_ONLY)
    events = pipeline.stream("Thành phố Huế có bao nhiêu cây cầu?")
    next(events)  # retrieval is done
    (docs / "hue.txt").write_text(VINH.replace("Vinh", "Huế"), encoding="utf-8")  # the document changes meanwhile
    indexing.update([docs], embedder, settings)
    answer = [e for e in events if isinstance(e, Answer)][-1]
    assert "11" in answer.text and all("Hương" in c.text for c in answer.citations)  # all from the old index
    assert "12" in pipeline.ask("Thành phố Huế có bao nhiêu cây cầu?").text  # the next question: the new one


def test_a_removed_document_stays_removed_until_restored(tmp_path: Path) -> None:
    docs, settings = folder(tmp_path)
    (docs / "vinh.txt").write_text(VINH, encoding="utf-8")
    embedder = FakeEmbedder()
    indexing.update([docs], embedder, settings)
    assert indexing.remove(["docs/vinh.txt"], settings) == ["docs/vinh.txt"]
    again = indexing.update([docs], embedder, settings)  # `make run` indexing seeds/ again
    assert again.withheld == ["docs/vinh.txt"] and not again.added and not again.written
    (docs / "vinh.txt").write_bytes(b"\x00" * 100)  # unreadable now: a removed document is not even read
    assert indexing.update([docs], embedder, settings).skipped == []
    (docs / "vinh.txt").write_text(VINH, encoding="utf-8")
    assert set(store.load(settings.index_path).documents) == {"docs/hue.txt"}
    assert store.load(settings.index_path).removed == {"docs/vinh.txt": again_hash(docs / "vinh.txt")}
    back = indexing.update([docs], embedder, settings, restore=True)
    assert back.restored == ["docs/vinh.txt"] and back.added == ["docs/vinh.txt"]
    index = store.load(settings.index_path)
    assert set(index.documents) == {"docs/hue.txt", "docs/vinh.txt"} and index.removed == {}


def again_hash(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_removal_survives_a_rebuild(tmp_path: Path) -> None:
    docs, settings = folder(tmp_path)
    (docs / "vinh.txt").write_text(VINH, encoding="utf-8")
    indexing.update([docs], FakeEmbedder(), settings)
    indexing.remove(["docs/vinh.txt"], settings)
    rebuilt = indexing.update([docs], FakeEmbedder(), settings, rebuild=True)
    assert rebuilt.withheld == ["docs/vinh.txt"]
    assert set(store.load(settings.index_path).documents) == {"docs/hue.txt"}


def test_uploading_a_removed_document_again_brings_it_back(tmp_path: Path) -> None:
    docs, settings = folder(tmp_path)
    settings = settings.model_copy(update={"max_upload_mb": 1})
    embedder = FakeEmbedder()
    indexing.update([docs], embedder, settings)
    library = Library(settings, Retriever(store.load(settings.index_path), embedder))
    upload = tmp_path / "vinh.txt"
    upload.write_text(VINH, encoding="utf-8")
    assert library.add([("vinh.txt", upload)]).added == ["data/uploads/vinh.txt"]
    assert library.remove("data/uploads/vinh.txt")
    assert indexing.update([settings.uploads_path], embedder, settings).withheld == []  # its file went with it
    upload.write_text(VINH, encoding="utf-8")
    assert library.add([("vinh.txt", upload)]).added == ["data/uploads/vinh.txt"]
    assert "data/uploads/vinh.txt" in store.load(settings.index_path).documents

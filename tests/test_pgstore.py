"""The PostgreSQL store against the embedded one, on a real PostgreSQL with pgvector (bench/pgserver.py).

Both stores are given the same documents and the same changes; what they hold and how they rank must agree."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
from conftest import FakeEmbedder, Tally, default_embedder, installed_model

from eval.seeds_retrieval import standalone
from rag import indexing, store
from rag.config import CHECKOUT, Settings
from rag.errors import IndexMissingError, LockedError
from rag.pgstore import PgStore
from rag.retrieve import Hit, Retriever
from rag.storage import open_store

SEEDS = CHECKOUT / "seeds"
XQUAD = CHECKOUT.parent / "shared" / "data" / "xquad_vi"


def questions() -> list[str]:
    lines = (CHECKOUT / "eval" / "seeds_qa.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["question"] for line in lines if line.strip()]


def both(tmp_path: Path, url: str, **extra: object) -> tuple[Settings, Settings]:
    embedded = Settings(home=tmp_path, index_dir=Path("index"), n_threads=1, **extra)  # type: ignore[arg-type]
    return embedded, embedded.model_copy(update={"database_url": url})


def retriever(settings: Settings, embedder: FakeEmbedder) -> Retriever:
    return Retriever(open_store(settings).load(), embedder, settings.dense_weight, settings.fusion)


class Ranked(list):  # type: ignore[type-arg]
    """The ids of a search's hits, compared exactly, and their dense and BM25 scores, compared as float32s
    (the database sums BM25 in float64, the embedded store in float32)."""

    def __init__(self, hits: list[Hit]) -> None:
        super().__init__(h.chunk.id for h in hits)
        self.scores = np.array([(h.dense, h.lexical) for h in hits]).reshape(-1, 2)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Ranked)
            and list(self) == list(other)
            and np.allclose(self.scores, other.scores, rtol=1e-5, atol=1e-6)
        )


def ranked(r: Retriever, query: str, **options: object) -> Ranked:
    return Ranked(r.search(query, **options))  # type: ignore[arg-type]


def assert_same_index(a: Settings, b: Settings, embedder: FakeEmbedder, queries: list[str]) -> int:
    """Both stores hold the same documents and chunks and rank the same top 5 for every query; how many
    queries were compared."""
    ra, rb = retriever(a, embedder), retriever(b, embedder)
    assert ra.documents() == rb.documents()
    assert ra.size == rb.size
    assert ra.index.removed == rb.index.removed
    for query in queries:
        assert ranked(ra, query) == ranked(rb, query), query
    return len(queries)


def test_both_stores_hold_and_rank_the_seeds_alike_through_every_change(tmp_path: Path, database_url: str) -> None:
    docs = tmp_path / "docs"
    shutil.copytree(SEEDS, docs)
    embedded, database = both(tmp_path, database_url)
    asked = questions()[:40]
    counts = []
    for settings in (embedded, database):
        embedder = FakeEmbedder()
        indexing.update([docs], embedder, settings)
        counts.append(len(embedder.embedded))
    assert_same_index(embedded, database, FakeEmbedder(), asked)
    # a changed document, a new one, one removed on purpose, then a pruned one: each compared
    first, second = sorted(docs.iterdir())[:2]
    first.write_text(first.read_text(encoding="utf-8") + "\n\nMột đoạn mới về Văn phòng Quốc hội.", encoding="utf-8")
    (docs / "them.txt").write_text("Tài liệu thêm\n\nVăn phòng Quốc hội có 25 đơn vị trực thuộc.", encoding="utf-8")
    for settings in (embedded, database):
        embedder = FakeEmbedder()
        report = indexing.update([docs], embedder, settings)
        assert sorted(report.changed) == [f"docs/{first.name}"] and report.added == ["docs/them.txt"]
        counts.append(len(embedder.embedded))
    assert counts[2] == counts[3] and counts[2] < counts[0]  # only the changed and new documents embedded again
    assert_same_index(embedded, database, FakeEmbedder(), [*asked, "25 đơn vị trực thuộc"])
    for settings in (embedded, database):
        assert indexing.remove([f"docs/{second.name}"], settings) == [f"docs/{second.name}"]
    assert_same_index(embedded, database, FakeEmbedder(), asked)
    (docs / "them.txt").unlink()
    for settings in (embedded, database):
        report = indexing.update([docs], FakeEmbedder(), settings, prune=True)
        assert report.removed == ["docs/them.txt"] and report.withheld == [f"docs/{second.name}"]
    assert_same_index(embedded, database, FakeEmbedder(), [*asked, "25 đơn vị trực thuộc"])


def test_filters_diversity_and_idf_agree(tmp_path: Path, database_url: str) -> None:
    embedded, database = both(tmp_path, database_url)
    for settings in (embedded, database):
        indexing.update([SEEDS], FakeEmbedder(), settings)
    ra, rb = retriever(embedded, FakeEmbedder()), retriever(database, FakeEmbedder())
    doc = sorted(ra.index.documents)[1]
    for query in questions()[:10]:
        assert ranked(ra, query, doc_ids={doc}) == ranked(rb, query, doc_ids={doc})
        assert ranked(ra, query, diversity=0.5) == ranked(rb, query, diversity=0.5)
    for term in ["quốc", "quốc hội", "văn phòng", "không-có-đâu", "của"]:
        assert ra.idf(term) == pytest.approx(rb.idf(term), rel=1e-5)
    some = [c.id for c in ra.index.chunks[:3]]  # type: ignore[attr-defined]
    assert ra.chunks(some) == rb.chunks(some)
    assert ra.search("", k=5) == rb.search("", k=5) == []


def test_the_xquad_articles_rank_alike_in_both_stores(tmp_path: Path, database_url: str, tally: object) -> None:
    """Top 5 of every XQuAD-vi question over its 48 articles (fake vectors: the BM25 side and the fusion are
    what differ between the stores; the vectors are the same numbers in both)."""
    if not (XQUAD / "corpus").is_dir():
        pytest.fail(f"{XQUAD} is missing: the shared benchmark data lies beside the checkout")
    embedded, database = both(tmp_path, database_url)
    for settings in (embedded, database):
        indexing.update([XQUAD / "corpus"], FakeEmbedder(), settings)
    lines = (XQUAD / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    asked = [json.loads(line)["question"] for line in lines[::4]]
    compared = assert_same_index(embedded, database, FakeEmbedder(), asked)
    assert compared == len(asked) > 250


def test_hnsw_in_the_database_finds_what_exact_search_finds(tmp_path: Path, database_url: str) -> None:
    _, database = both(tmp_path, database_url, index_hnsw=True)
    indexing.update([SEEDS], FakeEmbedder(), database)
    exact = database.model_copy(update={"index_hnsw": False})
    hnsw = retriever(database, FakeEmbedder())
    found = [ranked(hnsw, q) for q in questions()[:20]]
    indexing.update([SEEDS], FakeEmbedder(), exact)  # switching drops the HNSW index, embeds nothing
    assert found == [ranked(retriever(exact, FakeEmbedder()), q) for q in questions()[:20]]


def test_a_second_writer_is_refused_and_a_missing_index_says_what_to_run(tmp_path: Path, database_url: str) -> None:
    _, database = both(tmp_path, database_url)
    with pytest.raises(IndexMissingError, match="rag index"):
        open_store(database).load()
    first, second = PgStore(database_url), PgStore(database_url)
    with first.lock(), pytest.raises(LockedError, match="another `rag index` is writing"), second.lock():
        pass
    with second.lock():  # the lock went with the first writer's session
        pass


def test_readers_see_the_index_before_a_write_or_after_it(tmp_path: Path, database_url: str) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    _, database = both(tmp_path, database_url)
    (docs / "a.txt").write_text("Tài liệu A\n\nCon số là 1 trong bản 1.", encoding="utf-8")
    indexing.update([docs], FakeEmbedder(), database)
    seen: set[tuple[str, ...]] = set()
    done = threading.Event()

    def read() -> None:
        r = retriever(database, FakeEmbedder())
        while not done.is_set():
            seen.add(tuple(sorted({h.chunk.text for h in r.search("con số bản", k=10)})))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for version in range(2, 8):
            (docs / "a.txt").write_text(f"Tài liệu A\n\nCon số là {version} trong bản {version}.", encoding="utf-8")
            indexing.update([docs], FakeEmbedder(), database)
    finally:
        done.set()
        reader.join()
    # every search saw exactly one version's passage: never none (half deleted) and never two (half added)
    assert seen and all(len(texts) == 1 for texts in seen), seen


def test_the_index_folder_is_copied_to_the_database_without_embedding(tmp_path: Path, database_url: str) -> None:
    embedded, database = both(tmp_path, database_url)
    indexing.update([SEEDS], FakeEmbedder(), embedded)
    indexing.remove([sorted(store.load(embedded.index_path).documents)[0]], embedded)
    copied = indexing.copy_to_database(embedded, database_url)
    assert copied.chunks == store.load(embedded.index_path).size and copied.documents == 4
    assert_same_index(embedded, database, FakeEmbedder(), questions()[:20])
    embedder = FakeEmbedder()
    report = indexing.update([SEEDS], embedder, database)  # the copy is an index like any other: nothing to do
    assert not report.written and embedder.embedded == [] and len(report.withheld) == 1


def test_vectors_round_trip_exactly(tmp_path: Path, database_url: str) -> None:
    _, database = both(tmp_path, database_url)
    indexing.update([SEEDS], FakeEmbedder(), database)
    index = open_store(database).load()
    q = FakeEmbedder().embed(["Văn phòng Quốc hội"], "query")[0]
    found = index.candidates(q, "văn phòng quốc hội", 5, None)
    again = FakeEmbedder().embed([indexing.embedding_text(c) for c in found.chunks], "passage")
    np.testing.assert_array_equal(found.vectors, again)


@pytest.mark.real
def test_with_the_real_models_both_stores_rank_every_seeds_question_and_answer_alike(
    real_settings: Settings, tmp_path: Path, database_url: str, tally: Tally
) -> None:
    """The default embedder and model: the top 5 of every seeds question (as asked, and joined to its history
    as the app asks a follow-up) is the same in both stores, and so are the app's answers to the first 8."""
    from rag.generate import LlamaGenerator
    from rag.pipeline import Pipeline

    embedder = default_embedder(real_settings)
    embedded = real_settings.model_copy(update={"index_dir": tmp_path / "index"})
    database = embedded.model_copy(update={"database_url": database_url})
    for settings in (embedded, database):
        indexing.update([SEEDS], embedder, settings)
    ra, rb = retriever(embedded, embedder), retriever(database, embedder)
    lines = (CHECKOUT / "eval" / "seeds_qa.jsonl").read_text(encoding="utf-8").splitlines()
    items = [json.loads(line) for line in lines if line.strip()]
    asked = [q["question"] for q in items] + [standalone(q) for q in items if q["history"]]
    assert_same_index(embedded, database, embedder, asked)
    tally.add("seeds searches compared across the two stores", len(asked))
    generator = LlamaGenerator.load(installed_model(real_settings, "llm"), n_ctx=4096, n_threads=2)
    answers = []
    for r in (ra, rb):
        pipeline = Pipeline.from_settings(embedded, r, generator)
        answers.append([pipeline.ask(q["question"]).text for q in items[:8]])
    assert answers[0] == answers[1]
    tally.add("seeds answers compared across the two stores", 8)

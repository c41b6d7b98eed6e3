"""Query latency (embed + search + fuse) at 1k to 100k chunks, exact FAISS against HNSW, and HNSW's recall@10.

Chunks are real Vietnamese Wikipedia passages (`../shared/data/viwiki`), so BM25 works on real
postings. Their vectors are the real e5 vectors of an index built from those passages when one is
given (`--vectors-from`: `python -m bench` passes the index its indexing section built) for the
sizes it covers, and random unit vectors beyond (embedding 100k passages takes hours on 2 cores
with fp32; exact search costs the same whatever the values, but HNSW's recall does not, so each
row says which vectors it used). The questions are real (XQuAD-vi) and embedded by the real e5
for every search. For each size the same chunks and vectors are written twice, as an exact index
and as HNSW (rag's own `index.write`), and searched by the same `Retriever` in turn; recall@10 is
the share of exact search's 10 nearest vectors that HNSW also returns, over the questions, at rag's
search breadth (efSearch) and at others (with the FAISS search alone timed: all questions at once).

    .venv/bin/python -m bench.search_latency --data ../shared/data --sizes 1000 10000 100000
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.results import RESULTS
from rag import store
from rag.config import CHECKOUT
from rag.embed import Embedder
from rag.retrieve import Retriever
from rag.types import Chunk, Document

EF_SWEEP = (64, 128, 256, 512, 1024)  # HNSW search breadths whose recall@10 is reported


@dataclass(frozen=True)
class Search:
    """One kind of index at one size: writing it, and searching it through the `Retriever` and alone."""

    write_s: float
    p50_ms: float  # embed + search + fuse, per question
    p95_ms: float
    search_ms: float  # the FAISS search alone, per question (all questions at once)


@dataclass(frozen=True)
class Breadth:
    """HNSW at one search breadth: the FAISS search alone, and the share of exact search's 10 nearest found."""

    ef: int
    search_ms: float
    recall_at_10: float


@dataclass(frozen=True)
class LatencyRow:
    chunks: int
    vectors: str  # "e5" (real vectors) or "random"
    questions: int
    repeats: int
    exact: Search
    hnsw: Search
    hnsw_recall_at_10: float  # at rag's own search breadth
    ef_search: int
    sweep: list[Breadth]


def collection(data: Path, size: int, dim: int, real: store.Index | None) -> tuple[list[Chunk], np.ndarray, str]:
    """`size` chunks and their vectors: the real index's first ones when it has enough, else passages + random."""
    if real is not None and len(real.chunks) >= size:
        return real.chunks[:size], real.vectors[:size], "e5"
    with gzip.open(data / "viwiki" / "passages.jsonl.gz", "rt", encoding="utf-8") as f:
        passages = [json.loads(line) for line in itertools.islice(f, size)]
    chunks = [Chunk(f"c{i}", p["doc"], p["title"], None, 0, len(p["text"]), p["text"]) for i, p in enumerate(passages)]
    vectors = np.random.default_rng(0).standard_normal((len(chunks), dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return chunks, vectors, "random"


def timings(retriever: Retriever, questions: list[str], repeats: int) -> list[float]:
    """Milliseconds per search: each question `repeats` times, the median of its runs."""
    retriever.search(questions[0])  # warm-up
    per_question = []
    for q in questions:
        runs = []
        for _ in range(repeats):
            started = time.perf_counter()
            retriever.search(q, k=5)
            runs.append(1000 * (time.perf_counter() - started))
        per_question.append(statistics.median(runs))
    return per_question


def measure(
    data: Path, size: int, embedder: Embedder, questions: list[str], repeats: int, real: store.Index | None
) -> LatencyRow:
    chunks, vectors, kind = collection(data, size, embedder.dim, real)
    documents = [Document(d, d, d, None, None, "", "") for d in dict.fromkeys(c.doc_id for c in chunks)]
    found, searches, sweep = {}, {}, []
    q = embedder.embed(questions, "query")
    with tempfile.TemporaryDirectory() as tmp:
        for name, hnsw in (("exact", False), ("hnsw", True)):
            settings = store.IndexSettings(embedder.name, embedder.fingerprint, embedder.dim, hnsw=hnsw)
            started = time.perf_counter()
            store.write(Path(tmp) / name, settings, documents, chunks, vectors)
            write_s = round(time.perf_counter() - started, 1)
            index = store.load(Path(tmp) / name)
            ms = timings(Retriever(index, embedder), questions, repeats)
            started = time.perf_counter()
            found[name] = index.faiss_index.search(q, 10)[1]
            alone = round(1000 * (time.perf_counter() - started) / len(q), 2)
            p50, p95 = (round(float(np.percentile(ms, p)), 1) for p in (50, 95))
            searches[name] = Search(write_s, p50, p95, alone)
            if hnsw:  # recall and the search alone (no embedding, no BM25) at other breadths, then rag's own
                for ef in EF_SWEEP:
                    store.set_ef_search(index.faiss_index, ef)
                    started = time.perf_counter()
                    ids = index.faiss_index.search(q, 10)[1]
                    took = round(1000 * (time.perf_counter() - started) / len(q), 2)
                    sweep.append(Breadth(ef, took, recall_at_10(found["exact"], ids)))
                store.set_ef_search(index.faiss_index, store.HNSW_EF_SEARCH)
            del index
    recall = recall_at_10(found["exact"], found["hnsw"])
    return LatencyRow(len(chunks), kind, len(questions), repeats, searches["exact"], searches["hnsw"], recall,
                      store.HNSW_EF_SEARCH, sweep)  # fmt: skip


def recall_at_10(exact: np.ndarray, approximate: np.ndarray) -> float:
    """The share of exact search's 10 nearest that the approximate search also returns, averaged over queries."""
    return round(float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(exact, approximate, strict=True)])), 4)


def run(
    data: Path, sizes: list[int], questions: int = 100, repeats: int = 3, vectors_from: Path | None = None
) -> list[LatencyRow]:
    from rag import embed
    from rag.config import load_settings

    embedder = embed.from_settings(load_settings(n_threads=2))
    lines = (data / "xquad_vi" / "questions.jsonl").read_text("utf-8").split("\n")
    asked = [json.loads(line)["question"] for line in lines[:questions]]
    real = store.load(vectors_from) if vectors_from else None
    rows = []
    for size in sizes:
        row = measure(data, size, embedder, asked, repeats, real)
        print(row, flush=True)
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    from bench.results import save
    from rag.edge import run_edge

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=CHECKOUT.parent / "shared" / "data")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--questions", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3, help="runs of each question; its median counts")
    parser.add_argument("--vectors-from", type=Path, help="an index of viwiki passages whose real vectors to use")
    parser.add_argument("--out", type=Path, default=RESULTS / "search-latency.json")
    args = parser.parse_args(argv)

    return run_edge(lambda: save(run(args.data, args.sizes, args.questions, args.repeats, args.vectors_from), args.out))


if __name__ == "__main__":
    sys.exit(main())

"""The two stores side by side: writing an index into each, searching it, and pgvector's HNSW recall.

The chunks are real Vietnamese Wikipedia passages (`../shared/data/viwiki`: BM25 works on real
postings in both stores) with random unit vectors (embedding 100k passages takes hours on 2
cores; exact search costs the same whatever the values, HNSW's recall does not, so the rows say
"random"). The questions are XQuAD-vi's, embedded by the real e5 for every search, searched by
the same `Retriever` over the index folder (FAISS + BM25 in memory) and over PostgreSQL
(pgvector + BM25 in SQL), exact and HNSW. Writing is timed from the chunks and vectors to a
committed index (no embedding: that costs the same for both stores). recall@10 is the share of
exact search's 10 nearest vectors that pgvector's HNSW returns at rag's search breadth. The
server is a private PostgreSQL 16 with pgvector 0.8 on 127.0.0.1 (`bench/pgserver.py`) unless
`--database-url` names one.

    .venv/bin/python -m bench.database --data ../shared/data --sizes 10000 100000
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.results import RESULTS
from bench.search_latency import collection, recall_at_10, timings
from rag import store
from rag.config import CHECKOUT
from rag.embed import Embedder
from rag.pgstore import PgStore
from rag.retrieve import Retriever
from rag.storage import Change
from rag.types import Document


@dataclass(frozen=True)
class StoreRow:
    store: str  # "folder" or "postgres"
    search: str  # "exact" or "hnsw"
    chunks: int
    vectors: str
    write_s: float  # chunks and vectors to a committed index (the HNSW graph included)
    chunks_per_s: float
    p50_ms: float  # embed + search + fuse, per question
    p95_ms: float
    recall_at_10: float | None  # HNSW's dense top 10 against exact search's (postgres only)
    hnsw_planned: bool | None  # PostgreSQL's plan for the app's own search statement goes through the HNSW index


def _dense_top(pg: PgStore, q: np.ndarray, exact: bool) -> list[list[str]]:
    """pgvector's 10 nearest chunks of each query, with its HNSW index or by a full scan."""
    from rag.pgstore import vector_text

    with pg.pool().connection() as conn, conn.transaction():
        conn.execute(f"SET LOCAL enable_indexscan = {'off' if exact else 'on'}")
        return [
            [row[0] for row in conn.execute(
                "SELECT id FROM rag_chunks ORDER BY embedding <#> %s::vector LIMIT 10", (vector_text(v),)
            )]
            for v in q
        ]  # fmt: skip


def _plans_hnsw(pg: PgStore, q: np.ndarray, question: str, wanted: int) -> bool:
    """Whether the planner takes the HNSW index for the search statement the app runs (`PgIndex.candidates`)."""
    from rag.pgstore import CANDIDATES, POOL_TOP, QUERY_TERMS, PgIndex, terms, vector_text

    counts, _ = terms(question)
    with pg.pool().connection() as conn:
        params = PgIndex._weights(conn.execute(QUERY_TERMS, (list(counts),)).fetchall(), counts)
        params |= {"wanted": wanted, "q": vector_text(q)}
        plan = "\n".join(row[0] for row in conn.execute("EXPLAIN " + CANDIDATES.format(pool=POOL_TOP), params))
    return "rag_chunks_hnsw" in plan


def measure(data: Path, size: int, embedder: Embedder, questions: list[str], repeats: int, url: str) -> list[StoreRow]:
    chunks, vectors, kind = collection(data, size, embedder.dim, None)
    documents = [Document(d, d, d, None, None, "", "") for d in dict.fromkeys(c.doc_id for c in chunks)]
    rows = []
    q = embedder.embed(questions, "query")
    with tempfile.TemporaryDirectory() as tmp:
        for hnsw in (False, True):
            settings = store.IndexSettings(embedder.name, embedder.fingerprint, embedder.dim, hnsw=hnsw)
            started = time.perf_counter()
            store.write(Path(tmp) / "index", settings, documents, chunks, vectors)
            took = time.perf_counter() - started
            ms = timings(Retriever(store.load(Path(tmp) / "index"), embedder), questions, repeats)
            rows.append(_row("folder", hnsw, len(chunks), kind, took, ms, None, None))
            pg = PgStore(url)
            started = time.perf_counter()
            pg.commit(Change(settings, {}, documents, chunks, vectors), None)
            took = time.perf_counter() - started
            retriever = Retriever(pg.load(), embedder)
            ms = timings(retriever, questions, repeats)
            recall = (
                recall_at_10(np.array(_dense_top(pg, q, True)), np.array(_dense_top(pg, q, False))) if hnsw else None
            )
            planned = _plans_hnsw(pg, q[0], questions[0], retriever.candidates) if hnsw else None
            rows.append(_row("postgres", hnsw, len(chunks), kind, took, ms, recall, planned))
            print(rows[-2], rows[-1], sep="\n", flush=True)
    return rows


def _row(
    where: str, hnsw: bool, size: int, kind: str, took: float, ms: list[float],
    recall: float | None, planned: bool | None,
) -> StoreRow:  # fmt: skip
    p50, p95 = (round(float(np.percentile(ms, p)), 1) for p in (50, 95))
    return StoreRow(
        where, "hnsw" if hnsw else "exact", size, kind, round(took, 1), round(size / took), p50, p95, recall, planned
    )


def run(data: Path, sizes: list[int], questions: int = 100, repeats: int = 3, url: str | None = None) -> list[StoreRow]:
    from bench import pgserver
    from rag import embed
    from rag.config import load_settings

    embedder = embed.from_settings(load_settings(n_threads=2))
    lines = (data / "xquad_vi" / "questions.jsonl").read_text("utf-8").split("\n")
    asked = [json.loads(line)["question"] for line in lines[:questions]]
    server = pgserver.start() if url is None else None
    try:
        return [
            row
            for size in sizes
            for row in measure(data, size, embedder, asked, repeats, url or server.database())  # type: ignore[union-attr]
        ]
    finally:
        if server is not None:
            server.stop()


def main(argv: list[str] | None = None) -> int:
    from bench.results import save
    from rag.edge import run_edge

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=CHECKOUT.parent / "shared" / "data")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10000, 100000])
    parser.add_argument("--questions", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3, help="runs of each question; its median counts")
    parser.add_argument("--database-url", help="a PostgreSQL with pgvector to use (its tables rag_* are replaced)")
    parser.add_argument("--out", type=Path, default=RESULTS / "database.json")
    args = parser.parse_args(argv)
    return run_edge(lambda: save(run(args.data, args.sizes, args.questions, args.repeats, args.database_url), args.out))


if __name__ == "__main__":
    sys.exit(main())

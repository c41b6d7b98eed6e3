"""Query latency (embed + search + fuse) at 1k to 100k chunks, 2 threads.

Chunks are real Vietnamese Wikipedia passages (`../shared/data/viwiki`), so BM25 works
on real postings; their *vectors* are random unit vectors, because embedding 100k
passages takes hours on 2 cores and exact FAISS search costs the same whatever the
values. The questions are real (XQuAD-vi) and embedded by the real e5 for every search.
Figures go to bench/results/search-latency.json.

    .venv/bin/python -m bench.search_latency --data ../shared/data --sizes 1000 10000 100000
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from rag import index as store
from rag.cli import load_embedder, run_edge
from rag.config import load_settings
from rag.retrieve import Retriever
from rag.types import Chunk, Document


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--questions", type=int, default=100)
    parser.add_argument("--out", type=Path, default=Path("bench/results/search-latency.json"))
    args = parser.parse_args(argv)

    def run() -> int:
        settings = load_settings(n_threads=2)
        embedder = load_embedder(settings)
        lines = (args.data / "xquad_vi" / "questions.jsonl").read_text("utf-8").split("\n")
        questions = [json.loads(line)["question"] for line in lines[: args.questions]]
        with gzip.open(args.data / "viwiki" / "passages.jsonl.gz", "rt", encoding="utf-8") as f:
            passages = [json.loads(line) for line in itertools.islice(f, max(args.sizes))]
        rng = np.random.default_rng(0)
        results = []
        for size in args.sizes:
            chunks = [Chunk(f"c{i}", p["doc"], p["title"], None, 0, len(p["text"]), p["text"])
                      for i, p in enumerate(passages[:size])]  # fmt: skip
            documents = [Document(d, d, d, None, None, "", "") for d in dict.fromkeys(c.doc_id for c in chunks)]
            vectors = rng.standard_normal((size, embedder.dim)).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            index_settings = {"embedder": embedder.name, "embedder_fingerprint": embedder.fingerprint}
            with tempfile.TemporaryDirectory() as tmp:
                started = time.perf_counter()
                store.write(Path(tmp) / "index", index_settings, documents, chunks, vectors)
                write_s = time.perf_counter() - started
                retriever = Retriever(store.load(Path(tmp) / "index"), embedder)
                retriever.search(questions[0])  # warm-up
                times = []
                for q in questions:
                    t = time.perf_counter()
                    retriever.search(q, k=5)
                    times.append(1000 * (time.perf_counter() - t))
            row = {"chunks": size, "write_s": round(write_s, 1), "p50_ms": round(float(np.percentile(times, 50)), 1),
                   "p95_ms": round(float(np.percentile(times, 95)), 1)}  # fmt: skip
            results.append(row)
            print(row, flush=True)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2) + "\n")
        return 0

    return run_edge(run)


if __name__ == "__main__":
    sys.exit(main())

"""Embedding throughput: one process against Ray Data's actor pool with 1 and 2 workers, on this machine.

The texts are the chunks of the XQuAD-vi paragraphs (`../shared/data/xquad_vi/corpus_contexts`),
chunked as `rag index` chunks them. One process embeds them with the configured embedder on all
cores; Ray embeds them with `rag.cluster.embed_on_ray` (a Ray started here, each worker one CPU and
one thread), timed whole: starting Ray, loading the model in every worker, embedding, stopping. What
a cluster of N machines would reach is a projection from these figures, not a measurement.

    .venv/bin/python -m bench.cluster --data ../shared/data
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.results import RESULTS
from rag.config import CHECKOUT


@dataclass(frozen=True)
class ClusterRow:
    how: str  # "one process" or "ray, N workers"
    chunks: int
    seconds: float  # the whole run (Ray: its start, the workers' model loads and its stop included)
    chunks_per_s: float
    max_difference: float  # largest difference to the one process's vectors


def run(data: Path, limit: int | None = None) -> list[ClusterRow]:
    from rag import embed, indexing
    from rag.cluster import embed_on_ray
    from rag.config import load_settings
    from rag.ingest import load_documents
    from rag.progress import NoProgress

    settings = load_settings(n_threads=2)
    embedder = embed.from_settings(settings)
    documents, _ = load_documents([data / "xquad_vi" / "corpus_contexts"], settings.home, settings.max_document_mb)
    chunks = [c for d in documents for c in indexing.chunk_document(d, embedder, settings)][:limit]
    texts = [indexing.embedding_text(c) for c in chunks]
    started = time.perf_counter()
    single = embedder.embed(texts, "passage")
    took = time.perf_counter() - started
    rows = [ClusterRow("one process", len(texts), round(took, 1), round(len(texts) / took, 1), 0.0)]
    for workers in (1, 2):
        started = time.perf_counter()
        vectors = embed_on_ray(texts, embedder, settings, "local", NoProgress(), workers=workers)
        took = time.perf_counter() - started
        difference = float(np.abs(vectors - single).max())
        rows.append(ClusterRow(f"ray, {workers} workers", len(texts), round(took, 1), round(len(texts) / took, 1),
                               round(difference, 6)))  # fmt: skip
        print(rows[-1], flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    from bench.results import save
    from rag.edge import run_edge

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=CHECKOUT.parent / "shared" / "data")
    parser.add_argument("--limit", type=int, help="embed only the first LIMIT chunks")
    parser.add_argument("--out", type=Path, default=RESULTS / "cluster.json")
    args = parser.parse_args(argv)
    return run_edge(lambda: save(run(args.data, args.limit), args.out))


if __name__ == "__main__":
    sys.exit(main())

"""Retrieval recall on XQuAD-vi: dense-only, BM25-only, weighted fusion and RRF, through the real pipeline code.

Corpus: the 240 paragraph files of `xquad_vi/corpus_contexts`; gold: each question's
`source_context` file; a hit is a document (the best-ranked chunk of each document counts).
The index is built with `rag.indexing` into a folder of its own, never into the project's.

    .venv/bin/python -m eval.xquad_retrieval --data ../shared/data/xquad_vi
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from rich.console import Console

from rag import embed, indexing
from rag.config import load_settings
from rag.edge import run_edge
from rag.embed import Embedder
from rag.progress import ConsoleProgress
from rag.retrieve import Retriever
from rag.storage import open_store
from rag.types import TextKind

CONFIGS = {
    "dense": ("weighted", 1.0),
    "bm25": ("weighted", 0.0),
    "hybrid 50/50": ("weighted", 0.5),
    "rrf": ("rrf", 0.5),
}


def rank_metrics(ranks: Sequence[int | None]) -> dict[str, float]:
    """recall@1, recall@5 and MRR from each question's 1-based gold rank (None: not found).

    >>> rank_metrics([1, 3, None, 1])
    {'recall@1': 0.5, 'recall@5': 0.75, 'mrr': 0.5833333333333333}
    """
    n = max(len(ranks), 1)
    return {
        "recall@1": sum(r == 1 for r in ranks) / n,
        "recall@5": sum(r is not None and r <= 5 for r in ranks) / n,
        "mrr": sum(1 / r for r in ranks if r) / n,
    }


class QueryCache:
    """The embedder, remembering query vectors so four configurations embed each question once."""

    def __init__(self, embedder: Embedder) -> None:
        self.inner, self.cache = embedder, {}
        self.name, self.dim, self.fingerprint = embedder.name, embedder.dim, embedder.fingerprint

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def embed(self, texts: Sequence[str], kind: TextKind) -> np.ndarray:
        if kind != "query" or len(texts) != 1:
            return self.inner.embed(texts, kind)
        if texts[0] not in self.cache:
            self.cache[texts[0]] = self.inner.embed(texts, kind)
        return self.cache[texts[0]]


def write_distractors(viwiki: Path, count: int, folder: Path) -> Path:
    """The first `count` viwiki passages not from an article on an XQuAD topic, one file each (title, then text)."""
    overlap = set((viwiki / "xquad_topic_overlap.txt").read_text("utf-8").split("\n")) - {""}
    out = folder / "viwiki"
    if out.exists():
        shutil.rmtree(out)  # exactly `count` passages: a kept index drops the ones an earlier run had beyond them
    out.mkdir(parents=True)
    written = 0
    with gzip.open(viwiki / "passages.jsonl.gz", "rt", encoding="utf-8") as f:
        for line in f:
            passage = json.loads(line)
            if passage["doc"] in overlap:
                continue
            (out / f"{passage['id']}.txt").write_text(f"{passage['title']}\n{passage['text']}", encoding="utf-8")
            written += 1
            if written == count:
                break
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/xquad_vi"), help="the xquad_vi folder")
    parser.add_argument("--limit", type=int, default=None, help="only the first N questions")
    parser.add_argument("--distractors", type=int, default=0, help="add the first N viwiki passages to the corpus")
    parser.add_argument("--viwiki", type=Path, default=None, help="the viwiki folder (default: beside --data)")
    parser.add_argument("--out", type=Path, default=Path("eval/results/xquad-retrieval.json"))
    parser.add_argument(
        "--index-dir",
        type=Path,
        default=None,
        help="keep the index in this folder (a later run re-embeds only what changed); default: a temporary one",
    )
    parser.add_argument(
        "--dense-weights",
        type=float,
        nargs="*",
        default=[],
        help="also score weighted fusion with these dense weights (a sweep; 0.5 is the default configuration)",
    )
    args = parser.parse_args(argv)
    configs = CONFIGS | {f"hybrid {round(100 * w)}/{round(100 - 100 * w)}": ("weighted", w) for w in args.dense_weights}

    def run() -> int:
        questions = [
            json.loads(line) for line in (args.data / "questions.jsonl").read_text("utf-8").split("\n") if line
        ]
        questions = questions[: args.limit]
        with tempfile.TemporaryDirectory() as tmp:
            settings = load_settings(index_dir=args.index_dir.absolute() if args.index_dir else Path(tmp) / "index")
            # with a kept index the distractor files stay beside it, so their paths (document ids) stay the same
            scratch = settings.index_path.parent / f"{settings.index_path.name}-files" if args.index_dir else Path(tmp)
            embedder = QueryCache(embed.from_settings(settings))
            corpus = [args.data / "corpus_contexts"]
            if args.distractors:
                corpus.append(write_distractors(args.viwiki or args.data.parent / "viwiki", args.distractors, scratch))
            started = time.perf_counter()
            with ConsoleProgress(Console(stderr=True)) as progress:
                report = indexing.update(corpus, embedder, settings, prune=True, progress=progress)
            took = time.perf_counter() - started
            rate = report.embedded / max(report.embed_seconds, 1e-9)
            peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
            print(
                f"index: {report.total_chunks} chunks, {report.embedded} embedded in {report.embed_seconds:.0f} s "
                f"({rate:.1f} chunks/s), {took:.0f} s in all, peak RSS {peak_mb:.0f} MB"
            )
            index = open_store(settings).load()
            results = {}
            for name, (fusion, weight) in configs.items():
                retriever = Retriever(index, embedder, dense_weight=weight, fusion=fusion)  # type: ignore[arg-type]
                ranks, seconds = [], []
                for q in questions:
                    t = time.perf_counter()
                    hits = retriever.search(q["question"], k=20)
                    seconds.append(time.perf_counter() - t)
                    docs = list(dict.fromkeys(Path(h.chunk.doc_id).name for h in hits))
                    ranks.append(docs.index(q["source_context"]) + 1 if q["source_context"] in docs else None)
                results[name] = {
                    **rank_metrics(ranks),
                    # the first configuration embeds each question; the others reuse the cached vector
                    "search_ms_p50": 1000 * float(np.percentile(seconds, 50)),
                }
                print(
                    f"{name:13s} recall@1 {results[name]['recall@1']:.3f}  recall@5 {results[name]['recall@5']:.3f}  "
                    f"MRR {results[name]['mrr']:.3f}  p50 {results[name]['search_ms_p50']:.0f} ms"
                )
        args.out.parent.mkdir(parents=True, exist_ok=True)
        summary = {
            "questions": len(questions),
            "distractors": args.distractors,
            "chunks": report.total_chunks,
            "embedded": report.embedded,
            "chunks_per_s": rate,
            "index_seconds": took,
            "peak_rss_mb": peak_mb,
            "results": results,
        }
        args.out.write_text(json.dumps(summary, indent=2) + "\n")
        return 0

    return run_edge(run)


if __name__ == "__main__":
    sys.exit(main())

"""Retrieval on the seeds question set: is a gold document among the top passages, through the real index code.

For every answerable question of `eval/seeds_qa.jsonl` (or `--questions`), the corpus
(`seeds/` or `--corpus`) is indexed into a folder of its own and searched with each
configuration (dense-only, BM25-only, weighted fusion, RRF). A question is found at
rank r when the r-th passage (chunk) is the first from one of its gold documents;
recall@k counts questions found within the top k passages, `all@5` those whose every
gold document (two for cross-document questions) has a passage in the top 5.
Follow-up questions are scored twice: as asked (elliptical, so retrieval alone cannot
know what they refer to) and with the conversation's previous user question put
before them, the simplest standalone rewrite (issue #4 builds the real one).

    .venv/bin/python -m eval.seeds_retrieval
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

from eval.xquad_retrieval import CONFIGS, QueryCache, rank_metrics
from rag import embed, indexing
from rag.config import CHECKOUT, load_settings
from rag.edge import run_edge
from rag.progress import ConsoleProgress
from rag.retrieve import Retriever
from rag.storage import open_store

DEPTH = 10  # passages looked at per question


def first_gold_rank(doc_names: Sequence[str], gold: set[str]) -> int | None:
    """1-based rank of the first passage from a gold document, or None.

    >>> first_gold_rank(["a.txt", "b.txt", "a.txt"], {"b.txt"})
    2
    """
    return next((i + 1 for i, name in enumerate(doc_names) if name in gold), None)


def standalone(question: dict[str, Any]) -> str:
    """The question, with the last user turn of its history before it when it has one."""
    previous = [turn["content"] for turn in question["history"] if turn["role"] == "user"]
    return f"{previous[-1]} {question['question']}" if previous else question["question"]


def score(retriever: Retriever, queries: list[tuple[str, set[str]]]) -> dict[str, float]:
    ranks, complete = [], []
    for query, gold in queries:
        names = [Path(h.chunk.doc_id).name for h in retriever.search(query, k=DEPTH)]
        ranks.append(first_gold_rank(names, gold))
        complete.append(gold <= set(names[:5]))
    return {"questions": len(queries), **rank_metrics(ranks), "all@5": sum(complete) / max(len(queries), 1)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--questions", type=Path, default=CHECKOUT / "eval" / "seeds_qa.jsonl")
    parser.add_argument("--corpus", type=Path, nargs="+", default=[CHECKOUT / "seeds"])
    parser.add_argument("--out", type=Path, default=CHECKOUT / "eval" / "results" / "seeds-retrieval.json")
    args = parser.parse_args(argv)

    def run() -> int:
        lines = args.questions.read_text("utf-8").split("\n")
        questions = [q for q in (json.loads(line) for line in lines if line.strip()) if q["answerable"]]
        groups = {
            "single question": [(q["question"], set(q["sources"])) for q in questions if not q["history"]],
            "follow-up, as asked": [(q["question"], set(q["sources"])) for q in questions if q["history"]],
            "follow-up after its question": [(standalone(q), set(q["sources"])) for q in questions if q["history"]],
        }
        with tempfile.TemporaryDirectory() as tmp:
            settings = load_settings(index_dir=Path(tmp) / "index")
            embedder = QueryCache(embed.from_settings(settings))
            with ConsoleProgress(Console(stderr=True)) as progress:
                report = indexing.update(args.corpus, embedder, settings, progress=progress)
            index = open_store(settings).load()
        print(f"{len(report.added)} documents, {report.total_chunks} passages; {len(questions)} answerable questions")
        results: dict[str, dict[str, dict[str, float]]] = {}
        for name, (fusion, weight) in CONFIGS.items():
            retriever = Retriever(index, embedder, dense_weight=weight, fusion=fusion)  # type: ignore[arg-type]
            results[name] = {group: score(retriever, queries) for group, queries in groups.items()}
            for group, r in results[name].items():
                print(
                    f"{name:13s} {group:28s} n={r['questions']:3.0f}  recall@1 {r['recall@1']:.3f}  "
                    f"recall@5 {r['recall@5']:.3f}  all@5 {r['all@5']:.3f}  MRR {r['mrr']:.3f}"
                )
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"passages": report.total_chunks, "results": results}, indent=2) + "\n")
        return 0

    return run_edge(run)


if __name__ == "__main__":
    sys.exit(main())

"""Retrieval baselines for a question set: dense-only, BM25-only, hybrid fusion and RRF over one index.

Every answerable question is searched with each configuration (a follow-up with the pipeline's
own standalone rewrite), and the rank of the first passage from a gold document gives
recall@1, recall@5 and MRR. The query vector is computed once and shared by the four
configurations. The answer scorer (`eval/score.py`) puts these beside its answer metrics.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from eval.seeds_retrieval import first_gold_rank
from eval.xquad_retrieval import CONFIGS, QueryCache, rank_metrics
from rag.answer import standalone
from rag.embed import Embedder
from rag.retrieve import Retriever
from rag.store import Index

DEPTH = 10  # passages looked at per question


def query(question: Any) -> str:
    """What retrieval is asked for a question object (with `question` and `history`)."""
    return standalone(question.question, [t.turn() for t in question.history])[0]


def retrieval(
    index: Index,
    embedder: Embedder,
    questions: Sequence[Any],
    advance: Callable[[], None] = lambda: None,
) -> dict[str, dict[str, float]]:
    """recall@1/@5 and MRR of the gold document per configuration, over the answerable `questions`."""
    cached = QueryCache(embedder)
    asked = [(query(q), set(q.sources)) for q in questions if q.answerable and q.sources]
    results = {}
    for name, (fusion, weight) in CONFIGS.items():
        retriever = Retriever(index, cached, dense_weight=weight, fusion=fusion)  # type: ignore[arg-type]
        ranks = []
        for text, gold in asked:
            names = [Path(h.chunk.doc_id).name for h in retriever.search(text, k=DEPTH)]
            ranks.append(first_gold_rank(names, gold))
            advance()
        results[name] = {"questions": float(len(asked)), **rank_metrics(ranks)}
    return results


def steps(questions: Sequence[Any]) -> int:
    """How many searches `retrieval` makes (for a progress bar)."""
    return len(CONFIGS) * sum(1 for q in questions if q.answerable and q.sources)

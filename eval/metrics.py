"""Scoring one answer against its question (`record` → `Row`), and a run's rows into figures (`summarise`).

Gold and answer are compared after `rag.text.fold` (NFC, tone marks, case, punctuation,
number formats); citation markers are not answer text. This module computes; it does not
answer, write or draw.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from eval.questions import Question
from eval.xquad_retrieval import rank_metrics
from rag.text import contains, fold
from rag.types import Answer, Timings
from rag.verify import entities

MARKERS = re.compile(r"\[\d+\]")  # citation markers in an answer


@dataclass(frozen=True)
class Row:
    """One question's result, as written to answers.jsonl."""

    id: str
    type: str
    answerable: bool
    question: str
    answer: str
    mode: str
    correct: bool  # answerable: a gold answer contained; unanswerable: declined
    f1: float | None  # token F1 against the best gold answer (answerable questions)
    citations: list[str]  # cited documents' file names, in citation order
    cited_gold: list[bool]  # per citation: from a gold document
    gold_cited: list[bool]  # per gold document: cited
    unsupported: list[str]  # numbers, dates and names of the answer no cited passage holds
    gold_rank: int | None  # rank of the first retrieved chunk from a gold document
    reply: str
    why: str
    timings: Timings


def correct(answer: str, q: Question) -> bool:
    """Whether the answer holds an acceptable answer (or every part of a list answer), after `fold`.

    Citation markers are not answer text: "[1]" does not make an answer "1" correct.

    >>> correct("Có 30087 công văn.", Question(id="x", question="?", answers=["30.087"]))
    True
    >>> correct("Có nhiều nhóm [1].", Question(id="x", question="?", answers=["1"]))
    False
    """
    text = fold(MARKERS.sub(" ", answer))
    if q.answers_all:
        return all(contains(text, fold(a)) for a in q.answers_all)
    return any(contains(text, fold(a)) for a in q.answers)


def token_f1(answer: str, gold: str) -> float:
    """SQuAD-style token F1 over folded syllables.

    >>> round(token_f1("có 17 luật", "17 luật"), 3)
    0.8
    """
    a, g = fold(MARKERS.sub(" ", answer)).split(), fold(gold).split()
    common = sum((Counter(a) & Counter(g)).values())
    if not common:
        return 0.0
    precision, recall = common / len(a), common / len(g)
    return 2 * precision * recall / (precision + recall)


def unsupported(answer: Answer) -> list[str]:
    """Numbers, dates and names of the answer's text that none of its cited passages holds."""
    if answer.mode == "abstained":
        return []
    cited = fold(" ".join(f"{c.title} {c.date or ''} {c.text}" for c in answer.citations))
    text = MARKERS.sub(" ", answer.text)
    return [e for e in entities(text) if fold(e) and not contains(cited, fold(e))]


def record(q: Question, answer: Answer) -> Row:
    """One question's result."""
    names = [Path(d).name for d in answer.retrieved]
    gold = set(q.sources)
    rank = next((i + 1 for i, name in enumerate(names) if name in gold), None)
    cited_docs = [c.doc for c in answer.citations]
    golds = q.answers_all or q.answers
    return Row(
        id=q.id,
        type=q.type,
        answerable=q.answerable,
        question=q.question,
        answer=answer.text,
        mode=answer.mode,
        correct=correct(answer.text, q) if q.answerable else answer.mode == "abstained",
        f1=max((token_f1(answer.text, g) for g in golds), default=0.0) if q.answerable else None,
        citations=cited_docs,
        cited_gold=[d in gold for d in cited_docs],
        gold_cited=[s in cited_docs for s in q.sources],
        unsupported=unsupported(answer),
        gold_rank=rank,
        reply=answer.reply,
        why=answer.why,
        timings=answer.timings,
    )


def percentile(values: Sequence[float], p: float) -> float | None:
    return float(np.percentile(values, p)) if len(values) else None


def summarise(rows: Sequence[Row]) -> dict[str, Any]:
    """The run's figures, by name (summary.json)."""
    answerable = [r for r in rows if r.answerable]
    unanswerable = [r for r in rows if not r.answerable]
    answered = [r for r in rows if r.mode != "abstained"]
    abstained = [r for r in rows if r.mode == "abstained"]
    cited = [c for r in answerable for c in r.cited_gold]
    gold_cited = [g for r in answerable if r.mode != "abstained" for g in r.gold_cited]
    timings = [r.timings for r in rows]
    generated = [t for t in timings if t.prompt_tokens]
    own = [t.total_ms - t.prompt_ms - t.generate_ms for t in generated]

    def share(part: list[Any], whole: list[Any]) -> float | None:
        return len(part) / len(whole) if whole else None

    return {
        "questions": len(rows),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "accuracy": share([r for r in answerable if r.correct], answerable),
        "token_f1": float(np.mean([r.f1 for r in answerable])) if answerable else None,
        "citation_precision": share([c for c in cited if c], cited),
        "citation_recall": share([g for g in gold_cited if g], gold_cited),
        "abstention_recall": share([r for r in unanswerable if r.mode == "abstained"], unanswerable),
        "abstention_precision": share([r for r in abstained if not r.answerable], abstained),
        "false_abstentions": len([r for r in answerable if r.mode == "abstained"]),
        "answers_with_unsupported_entities": share([r for r in answered if r.unsupported], answered),
        "unsupported_entities": sum(len(r.unsupported) for r in answered),
        **{f"retrieval_{k}": v for k, v in rank_metrics([r.gold_rank for r in answerable]).items()},
        "first_token_ms_p50": percentile([t.first_token_ms for t in timings], 50),
        "first_token_ms_p95": percentile([t.first_token_ms for t in timings], 95),
        "total_ms_p50": percentile([t.total_ms for t in timings], 50),
        "total_ms_p95": percentile([t.total_ms for t in timings], 95),
        "model_called": len(generated),
        "first_token_ms_p50_model_called": percentile([t.first_token_ms for t in generated], 50),
        "total_ms_p50_model_called": percentile([t.total_ms for t in generated], 50),
        "prompt_tokens_p50": percentile([t.prompt_tokens for t in generated], 50),
        "pipeline_ms_p50": percentile(own, 50),
        "pipeline_share": sum(own) / sum(t.total_ms for t in generated) if generated else None,
        "modes": dict(Counter(r.mode for r in rows)),
    }


def breakdown(rows: Sequence[Row], key: str) -> dict[str, dict[str, Any]]:
    """Questions and the share correct per value of a row field (`type`, `mode`)."""
    groups: dict[str, list[Row]] = defaultdict(list)
    for r in rows:
        groups[str(getattr(r, key))].append(r)
    return {
        name: {
            "questions": len(g),
            "correct": sum(r.correct for r in g),
            "accuracy": sum(r.correct for r in g) / len(g),
        }
        for name, g in sorted(groups.items())
    }

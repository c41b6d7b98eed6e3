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
from rag.types import Answer, Features, Timings
from rag.verify import entities

MARKERS = re.compile(r"\[\d+\]")  # citation markers in an answer
MAX_WORDS = 40  # an answer longer than this is not what a person who asked a question reads as an answer


@dataclass(frozen=True)
class Scored:
    """A candidate answer as the pipeline scored it, and whether it is right (the fitting data of eval/fit.py)."""

    mode: str
    text: str
    probability: float
    correct: bool
    words: int
    features: dict[str, float]


@dataclass(frozen=True)
class Row:
    """One question's result, as written to answers.jsonl."""

    id: str
    type: str
    answerable: bool
    question: str
    answer: str
    mode: str
    correct: bool  # answerable: a gold answer contained in at most MAX_WORDS words; unanswerable: declined
    contained: bool  # answerable: a gold answer contained, whatever the length (the earlier measure)
    words: int  # the answer's words (citation markers left out); 0 for a refusal
    f1: float | None  # token F1 against the best gold answer (answerable questions)
    citations: list[str]  # cited documents' file names, in citation order
    cited_gold: list[bool]  # per citation: from a gold document
    gold_cited: list[bool]  # per gold document: cited
    unsupported: list[str]  # numbers, dates and names of the answer no cited passage holds
    gold_rank: int | None  # rank of the first retrieved chunk from a gold document
    reply: str
    why: str
    timings: Timings
    confidence: float  # what the pipeline said of the shown answer's chance of being right
    reason: str  # the decision's reason code
    candidates: list[Scored]


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


def words(answer: str) -> int:
    """The words a reader reads: folded syllables, citation markers left out.

    >>> words("Có 30.087 công văn đến [1].")
    5
    """
    return len(fold(MARKERS.sub(" ", answer)).split())


def right(answer: str, q: Question) -> bool:
    """Correct as a user reads it: a gold answer contained, in at most `MAX_WORDS` words."""
    return words(answer) <= MAX_WORDS and correct(answer, q)


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
        correct=right(answer.text, q) and answer.mode != "abstained" if q.answerable else answer.mode == "abstained",
        contained=correct(answer.text, q) and answer.mode != "abstained" if q.answerable else False,
        words=words(answer.text) if answer.mode != "abstained" else 0,
        f1=max((token_f1(answer.text, g) for g in golds), default=0.0) if q.answerable else None,
        citations=cited_docs,
        cited_gold=[d in gold for d in cited_docs],
        gold_cited=[s in cited_docs for s in q.sources],
        unsupported=unsupported(answer),
        gold_rank=rank,
        reply=answer.reply,
        why=answer.why,
        timings=answer.timings,
        confidence=answer.confidence,
        reason=answer.reason.code,
        candidates=[
            Scored(
                c.mode,
                c.text,
                c.probability,
                q.answerable and right(c.text, q),
                words(c.text),
                dict(zip(Features.names(), c.features.vector(), strict=True)),
            )
            for c in answer.candidates
        ],
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
        # as a user reads it (docs/evaluation.md): right = the gold answer in at most 40 words
        "contained": share([r for r in answerable if r.contained], answerable),
        "answered": share(answered, rows),
        "wrong_shown": share([r for r in answered if not r.correct], rows),
        "median_words": percentile([r.words for r in answered], 50),
        "generated_right": share(
            [r for r in rows if r.mode == "generated" and r.correct], [r for r in rows if r.mode == "generated"]
        ),
        "extractive_right": share(
            [r for r in rows if r.mode == "extractive" and r.correct], [r for r in rows if r.mode == "extractive"]
        ),
        "auroc": auroc([best(r) for r in rows]),
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


def best(row: Row) -> tuple[float, bool]:
    """(the probability of the question's likeliest candidate, whether that candidate is right): what selective
    answering ranks questions by (an unanswerable question's candidates are all wrong)."""
    if not row.candidates:
        return 0.0, False
    top = max(row.candidates, key=lambda c: c.probability)
    return top.probability, top.correct


def auroc(scored: Sequence[tuple[float, bool]]) -> float | None:
    """The chance that a right answer's confidence is above a wrong one's (ties count half).

    >>> auroc([(0.9, True), (0.2, False), (0.5, True), (0.5, False)])
    0.875
    """
    right_ones = [p for p, ok in scored if ok]
    wrong_ones = [p for p, ok in scored if not ok]
    if not right_ones or not wrong_ones:
        return None
    wins = sum((r > w) + 0.5 * (r == w) for r in right_ones for w in wrong_ones)
    return wins / (len(right_ones) * len(wrong_ones))


def risk_coverage(scored: Sequence[tuple[float, bool]]) -> list[tuple[float, float, float]]:
    """(threshold, share of questions answered, accuracy of those answered) as the threshold falls, one point per
    distinct confidence: answering only the questions whose likeliest candidate reaches the threshold."""
    ranked = sorted(scored, key=lambda pc: -pc[0])
    points, kept_right = [], 0
    for i, (p, ok) in enumerate(ranked, 1):
        kept_right += ok
        if i == len(ranked) or ranked[i][0] != p:
            points.append((p, i / len(ranked), kept_right / i))
    return points


def calibration(scored: Sequence[tuple[float, bool]], bins: int = 10) -> list[tuple[float, float, int]]:
    """(mean confidence, share right, questions) per confidence bin of equal width, empty bins left out."""
    out = []
    for b in range(bins):
        low, high = b / bins, (b + 1) / bins
        inside = [(p, ok) for p, ok in scored if low <= p < high or (b == bins - 1 and p == 1.0)]
        if inside:
            out.append(
                (sum(p for p, _ in inside) / len(inside), sum(ok for _, ok in inside) / len(inside), len(inside))
            )
    return out

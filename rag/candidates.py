"""The two answers a question can get, each with the signals of how sure it is: the short quote (the span of the
best evidence sentence that answers it) and the model's verified words.

`Context` holds what every candidate is scored against: the question's kind and words, their idf
over the index, the retrieval scores. `quote` picks the evidence sentence that holds the most of
the question (idf-weighted, mixed with its evidence score) and cuts the short answer out of it
(`rag.spans.span`). `model_answer` anchors the model's reply in the evidence sentence that holds
its numbers, names and new words, and scores it there. Both return a `Candidate` whose
`probability` the confidence model gave it. This module decides nothing (`rag.decide` does).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rag import answer as forms
from rag.confidence import Model
from rag.evidence import Passage, Sentence
from rag.spans import KINDS, Expression, Kind, Span, Words, coverage, expressions, kind, positions, span, terms
from rag.text import contains, fold
from rag.types import Candidate, Features
from rag.verify import CITATION, Verdict, entities, unlabel

SENTENCE_WEIGHT = 0.4  # a sentence's evidence score against its coverage of the question, when picking the quote
TYPED_BONUS = 0.3  # for a sentence that holds an expression of the asked kind (a number for "bao nhiêu"…)


@dataclass(frozen=True)
class Context:
    """What every candidate answer to one question is scored against."""

    query: str  # the standalone query (a follow-up joined to the question before it)
    asked: Kind
    terms: tuple[str, ...]
    entities: tuple[str, ...]  # the question's numbers and names, folded
    idf: Callable[[str], float]
    dense: float
    dense_gap: float

    @classmethod
    def of(cls, question: str, query: str, dense: Sequence[float], idf: Callable[[str], float]) -> Context:
        asked = kind(question)
        if asked == "other" and query != question:  # "Còn công văn đi thì sao?" asks what the question before did
            asked = kind(query)
        best = sorted(dense, reverse=True)
        gap = best[0] - best[1] if len(best) > 1 else best[0] if best else 0.0
        named = tuple(f for f in (fold(e) for e in entities(question)) if f)
        return cls(query, asked, tuple(terms(query)), named, idf, best[0] if best else 0.0, gap)


def _entities_share(context: Context, sentence: str) -> float:
    if not context.entities:
        return 1.0
    folded = fold(sentence)
    return sum(contains(folded, e) for e in context.entities) / len(context.entities)


def _features(
    context: Context,
    sentence: str,
    rank: int,
    expression: Expression | None,
    nearness: float,
    text: str,
    **model: float,
) -> Features:
    typed = 0.5 if context.asked == "other" else float(expression is not None)
    return Features(
        dense=context.dense,
        dense_gap=context.dense_gap,
        support=coverage(context.terms, sentence, context.idf),
        entities=_entities_share(context, sentence),
        rank=1 / max(rank, 1),
        typed=typed,
        nearness=nearness if expression is not None else (1.0 if context.asked == "other" else 0.0),
        words=len(fold(CITATION.sub(" ", text)).split()) / 40,
        verified=model.get("verified", 0.0),
        logprob_mean=model.get("logprob_mean", 0.0),
        logprob_min=model.get("logprob_min", 0.0),
        agree=model.get("agree", 0.0),
        declined=model.get("declined", 0.0),
        **{k: float(k == context.asked) for k in KINDS},
    )


def quote(context: Context, passages: Sequence[Passage], model: Model, declined: bool = False) -> Candidate | None:
    """The short quote: the span of the evidence sentence that answers best, with its citation."""
    cuts = [(p, s, span(context.query, s.text, context.asked, context.idf)) for p in passages for s in p.sentences]
    if not cuts:
        return None

    def weight(cut: tuple[Passage, Sentence, Span]) -> float:
        held = coverage(context.terms, cut[1].text, context.idf)
        typed = context.asked != "other" and cut[2].expression is not None
        return (1 - SENTENCE_WEIGHT) * held + SENTENCE_WEIGHT * cut[1].score + TYPED_BONUS * typed

    passage, sentence, cut = max(cuts, key=weight)
    whole, part = sentence.text.strip(), cut.text.strip()
    before = "" if whole.startswith(part) else "… "  # a cut sentence reads as one: "… phòng Quốc hội …"
    after = "" if whole.endswith(part) else " …"
    text = f"“{before}{forms.unmark(part)}{after}” [{passage.n}]"
    features = _features(
        context, sentence.text, passage.n, cut.expression, cut.nearness, text, declined=float(declined)
    )
    return Candidate(
        "extractive",
        text,
        (forms.citation(passage.n, passage, [sentence]),),
        features,
        model.extractive.probability(features),
        cut.expression.text if cut.expression else "",
    )


def anchor(text: str, passages: Sequence[Passage]) -> tuple[Passage, Sentence] | None:
    """The evidence sentence a reply stands in: the one holding the most of its numbers and names, then of its
    words."""
    ranked = [(p, s) for p in passages for s in p.sentences]
    if not ranked:
        return None
    named = [f for f in (fold(e) for e in entities(text)) if f]
    words = set(fold(CITATION.sub(" ", text)).split())

    def held(ps: tuple[Passage, Sentence]) -> tuple[float, float]:
        folded = fold(ps[1].text)
        names = sum(contains(folded, e) for e in named) / len(named) if named else 1.0
        return names, len(words & set(folded.split())) / max(len(words), 1)

    return max(ranked, key=held)


def model_answer(
    context: Context,
    reply: str,
    verdict: Verdict,
    passages: Sequence[Passage],
    logprobs: Sequence[float],
    quoted: Candidate | None,
    model: Model,
    declined: bool,
) -> Candidate | None:
    """The model's words: verified and re-cited when they pass the word-level check (else the reply as written,
    which is never shown), scored in the sentence they stand in."""
    if not reply.strip():
        return None
    text, citations = forms.generated(verdict.claims, passages) if verdict.ok else (unlabel(reply).strip(), ())
    found = anchor(text, passages)
    sentence, rank = (found[1].text, found[0].n) if found else ("", 99)
    folded_question = fold(context.query)
    given = [
        e
        for e in expressions(Words.of(CITATION.sub(" ", text)))
        if (e.kind == context.asked or (context.asked == "place" and e.kind == "person"))
        and not contains(folded_question, fold(e.text))
    ]
    expression = given[0] if given else None
    nearness = _nearness(context, sentence, expression) if expression else 0.0
    if quoted is not None and quoted.expression:
        agree = float(contains(fold(text), fold(quoted.expression)))
    elif quoted is not None:
        mine, theirs = set(fold(text).split()), set(fold(quoted.text).split())
        agree = len(mine & theirs) / max(len(mine | theirs), 1)
    else:
        agree = 0.0
    if logprobs:
        mean, least = sum(logprobs) / len(logprobs), min(logprobs)
    else:
        mean, least = model.logprob_fill
    features = _features(
        context,
        sentence,
        rank,
        expression,
        nearness,
        text,
        verified=float(verdict.ok),
        logprob_mean=mean,
        logprob_min=least,
        agree=agree,
        declined=float(declined),
    )
    return Candidate(
        "generated",
        text,
        citations,
        features,
        model.generated.probability(features),
        expression.text if expression else "",
    )


def _nearness(context: Context, sentence: str, expression: Expression) -> float:
    """How near the reply's expression stands to the question's words in its sentence (0 when it is not there)."""
    words = Words.of(sentence)
    target = fold(expression.text)
    there = [e for e in expressions(words) if contains(fold(e.text), target) or contains(target, fold(e.text))]
    if not there:
        return 0.0
    near = positions(words, context.terms)
    gap = min((max(e.first - p, p - e.last, 0) for e in there for p in near), default=len(words))
    return 1 / (1 + gap)

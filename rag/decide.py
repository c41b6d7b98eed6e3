"""One place decides what the user is shown: the model's words, a short quote, or the fixed refusal.

Gates before the model, in order, each a small function that gives a `Reason` to decline or None:
1. `no_passage`: no evidence sentence matches the question;
2. `low_similarity`: the best passage's cosine is under `RAG_ABSTAIN_BELOW`;
3. `missing_premise`: the question names a number, date or name no retrieved passage mentions;
4. `uncounted`: it asks "bao nhiêu X" and no passage counts X.
After the model (`choose`), in order: the refusal when the model said the passages do not answer
(`model_declined`: a quote does not overrule it); the model's words when they passed the word-level
check and their probability of being right is at least the model's threshold (`generated`); else
the short quote when its probability clears its own threshold (`extractive`); else the refusal
(`low_confidence`). The
thresholds come with the confidence model (`rag.confidence`). Every decision carries its
confidence: the shown answer's probability of being right, or for a refusal one minus the best
candidate's. This module decides; it computes no signal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from rag import answer as forms
from rag.confidence import Model
from rag.evidence import Passage
from rag.retrieve import Hit
from rag.types import Candidate, Citation, Mode, Reason

ReasonCode = Literal[
    "generated",
    "extractive",
    "no_passage",
    "low_similarity",
    "missing_premise",
    "uncounted",
    "prompt_too_long",
    "model_declined",
    "low_confidence",
]


def reason(code: ReasonCode, text: str) -> Reason:
    return Reason(code, text)


@dataclass(frozen=True)
class Decision:
    mode: Mode
    text: str
    citations: tuple[Citation, ...]
    confidence: float
    reason: Reason


def no_passage(passages: Sequence[Passage]) -> Reason | None:
    return None if passages else reason("no_passage", "no passage matches the question")


def low_similarity(hits: Sequence[Hit], below: float) -> Reason | None:
    best = max((h.dense for h in hits), default=0.0)
    return reason("low_similarity", f"best passage cosine {best:.3f} is under {below}") if best < below else None


def missing_premise(question: str, hits: Sequence[Hit]) -> Reason | None:
    # the question itself, not the joined query: a premise the earlier question lacked must not stick
    missing = forms.missing_premises(question, [h.chunk for h in hits])
    return reason("missing_premise", f"no passage mentions {', '.join(missing)}") if missing else None


def uncounted(question: str, hits: Sequence[Hit]) -> Reason | None:
    thing = forms.uncounted(question, [h.chunk for h in hits])
    return reason("uncounted", f"the question asks how many '{thing}'; no passage counts it") if thing else None


def before_model(question: str, hits: Sequence[Hit], passages: Sequence[Passage], below: float) -> Reason | None:
    """The first gate that declines the question before the model is asked, or None."""
    return (
        no_passage(passages)
        or low_similarity(hits, below)
        or missing_premise(question, hits)
        or uncounted(question, hits)
    )


def declined(reason: Reason, candidates: Sequence[Candidate | None] = ()) -> Decision:
    """The fixed refusal, sure of itself as far as no candidate is likely right."""
    best = max((c.probability for c in candidates if c is not None), default=0.0)
    return Decision("abstained", forms.no_answer(), (), 1 - best, reason)


def choose(
    generated: Candidate | None,
    quoted: Candidate | None,
    model: Model,
    model_declined: bool = False,
    repairs: str = "",
) -> Decision:
    """The model's words, else the quote, else the refusal (see the module docstring); `repairs` says what the
    word-level check mended in the model's words (citations re-attached or dropped)."""
    if model_declined:  # the model read the passages and found no answer: that is not overruled by a quote
        return declined(reason("model_declined", "the model found no answer in the passages"), [generated, quoted])
    if generated is not None and generated.features.verified and generated.probability >= model.show_generated:
        mended = f"; {repairs}" if repairs else ""
        return Decision(
            "generated",
            generated.text,
            generated.citations,
            generated.probability,
            reason(
                "generated", f"the model's answer passed the checks{mended} (confidence {generated.probability:.2f})"
            ),
        )
    if quoted is not None and quoted.probability >= model.show_extractive:
        why = "the model's answer did not pass" if generated is not None else "no model answer"
        return Decision(
            "extractive",
            quoted.text,
            quoted.citations,
            quoted.probability,
            reason("extractive", f"{why}; the quote is likely right (confidence {quoted.probability:.2f})"),
        )
    return declined(
        reason("low_confidence", "neither the model's answer nor a quote is likely enough to be right"),
        [generated, quoted],
    )

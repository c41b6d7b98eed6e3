"""How sure an answer is: the signals of one candidate answer (`Features`), and the fitted model that turns them
into the probability that the candidate is right (`Model`, shipped as package data `rag/confidence.json`).

The signals generalise across documents; none is a rule for a question:
- retrieval: the best passage's cosine to the question, and its lead over the second;
- the candidate's sentence (the evidence sentence it stands in): how much of the question it holds,
  weighted by each word's idf over the index (`support`), the share of the question's numbers and names
  in it (`entities`), its passage's rank;
- what was asked against what is shown: the question's kind (person, number, date, place, other),
  whether an expression of that kind is in the answer (`typed`), and how near it stands to the
  question's words in the sentence (`nearness`: the "right title, wrong person" failure scores low);
- the model's own answer: whether it passed the word-level check, its tokens' log-probabilities
  (llama.cpp's, greedy), whether it agrees with the extractive span, whether the model declined;
- the answer's length.

`Model` is two small logistic regressions, one for the model's words and one for a quote, with
the thresholds read off the risk–coverage curve of the set they were fitted on (eval/fit.py
writes the file, with what it was fitted on). This module computes and scores; it decides nothing.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from rag.errors import ConfigError
from rag.types import Features

CLIP = 3.0  # standardised signals are clipped to ±CLIP: a signal far outside the fitting set's (another
# embedder's cosines, a document unlike any seen) must not decide alone


def standardised(x: float, mean: float, scale: float) -> float:
    return max(-CLIP, min(CLIP, (x - mean) / scale))


@dataclass(frozen=True)
class Logistic:
    """p = sigmoid(bias + Σ weight · clip((x − mean) / scale)), over `Features` in field order."""

    weights: tuple[float, ...]
    bias: float
    mean: tuple[float, ...]
    scale: tuple[float, ...]

    @classmethod
    def from_json(cls, part: dict[str, Any]) -> Logistic:
        return cls(tuple(part["weights"]), float(part["bias"]), tuple(part["mean"]), tuple(part["scale"]))

    def probability(self, features: Features) -> float:
        z = self.bias + sum(
            w * standardised(x, m, s)
            for w, x, m, s in zip(self.weights, features.vector(), self.mean, self.scale, strict=True)
        )
        return 1 / (1 + math.exp(-max(-30.0, min(30.0, z))))


@dataclass(frozen=True)
class Model:
    """The fitted confidence of the two kinds of answer, and the thresholds an answer must clear to be shown."""

    generated: Logistic
    extractive: Logistic
    show_generated: float  # the model's words are shown when their probability of being right is at least this
    show_extractive: float  # else the quote, when its probability is at least this; else the refusal
    logprob_fill: tuple[float, float]  # (mean, min) log-probability used when the model gives none (a server)
    fitted: str  # what the model was fitted on, and how (eval/fit.py writes it)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Model:
        names = Features.names()
        if data.get("features") != names:
            raise ConfigError(
                "rag/confidence.json was fitted on other features than this version computes; "
                "refit it with `python -m eval.fit` (docs/evaluation.md)."
            )

        return cls(
            Logistic.from_json(data["generated"]),
            Logistic.from_json(data["extractive"]),
            float(data["thresholds"]["generated"]),
            float(data["thresholds"]["extractive"]),
            (float(data["logprob_fill"][0]), float(data["logprob_fill"][1])),
            str(data.get("fitted", "")),
        )


@cache
def shipped() -> Model:
    """The model shipped with the package (`rag/confidence.json`)."""
    text = resources.files("rag").joinpath("confidence.json").read_text(encoding="utf-8")
    return Model.from_json(json.loads(text))

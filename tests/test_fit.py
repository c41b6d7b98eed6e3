"""The confidence model's fitting (eval/fit.py) on hand-made recorded runs: it learns which signal tells right from
wrong, and picks thresholds that keep wrong answers under the limit."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np

from eval import fit
from rag.confidence import Model
from rag.types import Features


def recorded(folder: Path, n: int = 300, seed: int = 0) -> Path:
    """A run where a quote is right exactly when its `support` is high, and the model's words when `agree` is."""
    rng = random.Random(seed)
    folder.mkdir(parents=True)
    rows = []
    for _ in range(n):
        answerable = rng.random() < 0.7
        support = rng.random() if answerable else 0.5 * rng.random()  # what is not there is not well supported
        agree = rng.random()
        base = dict.fromkeys(Features.names(), 0.0) | {"dense": 0.85 + 0.1 * rng.random()}
        quote = base | {"support": support, "typed": 1.0}
        words = base | {"support": support, "agree": agree, "verified": 1.0, "logprob_mean": -0.2}
        rows.append(
            {
                "answerable": answerable,
                "reason": "low_confidence",
                "candidates": [
                    {
                        "mode": "generated",
                        "text": "x",
                        "probability": 0.5,
                        "correct": answerable and agree > 0.6,
                        "words": 10,
                        "features": words,
                    },
                    {
                        "mode": "extractive",
                        "text": "y",
                        "probability": 0.5,
                        "correct": answerable and support > 0.5,
                        "words": 12,
                        "features": quote,
                    },
                ],
            }
        )
    (folder / "answers.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return folder


def test_the_fit_learns_the_telling_signal_and_keeps_wrong_answers_under_the_limit(tmp_path: Path) -> None:
    asked = fit.read_runs([recorded(tmp_path / "run")])
    model = fit.fit(asked)
    names = Features.names()
    quote_weights = dict(zip(names, model["extractive"]["weights"], strict=True))
    word_weights = dict(zip(names, model["generated"]["weights"], strict=True))
    assert quote_weights["support"] > 1 and abs(quote_weights["agree"]) < 0.5
    assert word_weights["agree"] > 1
    g, e = model["thresholds"]["generated"], model["thresholds"]["extractive"]
    outcome = fit.decide(asked, model, g, e)
    assert outcome.answered_wrong <= fit.MAX_WRONG * outcome.questions and outcome.answered_right > 50
    assert outcome.auroc is not None and outcome.auroc > 0.9
    model["fitted"] = "test"
    loaded = Model.from_json(model)  # what the pipeline reads back
    easy = Features(**(dict.fromkeys(names, 0.0) | {"dense": 0.9, "support": 0.9, "typed": 1.0}))
    hard = Features(**(dict.fromkeys(names, 0.0) | {"dense": 0.9, "support": 0.1, "typed": 1.0}))
    assert loaded.extractive.probability(easy) > 0.8 > 0.2 > loaded.extractive.probability(hard)


def test_the_logistic_regression_recovers_a_known_rule() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 2))
    y = (x[:, 0] - 0.5 * x[:, 1] + rng.normal(scale=0.3, size=2000) > 0).astype(float)
    part = fit.logistic(x, y, penalty=0.1)
    w = np.array(part["weights"]) / np.array(part["scale"])
    assert w[0] > 0 > w[1] and abs(w[1] / w[0] + 0.5) < 0.15

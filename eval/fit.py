"""Fit the confidence model (`rag/confidence.json`) on scored runs, and report it on runs it was not fitted on.

    .venv/bin/python -m eval.fit eval/results/xquad-near-miss-… [--report eval/results/seeds-… …] [--out PATH]

Every run of `python -m eval` records, for each question, the candidate answers the pipeline scored (the
model's words and the short quote), their signals (`rag.types.Features`) and whether each is right (the gold
answer in at most 40 words; no candidate of an unanswerable question is right). From the runs given first:
- two logistic regressions (one for the model's words, one for the quote), the signals standardised
  (and clipped to ±`rag.confidence.CLIP`, as the app does),
  an L2 penalty (`PENALTY`), fitted by Newton's method;
- the two thresholds, read off the fitting runs' decisions: the pair that shows the most right answers
  while answering at most `MAX_WRONG` of all questions wrongly (the model's words first, when they passed
  the word-level check; else the quote; else the refusal, as `rag.decide.choose` does; questions a gate
  declined before the model stay declined).
`--report RUN` replays that decision, with the new model, on the recorded candidates of other runs and prints
their figures: this is the report on data the model was not fitted on (the README's and docs/evaluation.md's
figures come from a real run of `python -m eval` after fitting, which must agree with the replay).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from eval.metrics import auroc
from eval.questions import article_half, document_half, read_questions
from rag.confidence import CLIP, Logistic
from rag.config import CHECKOUT
from rag.types import Features

PENALTY = 1.0  # L2 weight on the standardised coefficients
MAX_WRONG = 0.05  # at most this share of all questions may be answered wrongly on the fitting runs
# declined whatever the thresholds: before the model, or by it
GATES = {"no_passage", "low_similarity", "missing_premise", "uncounted", "model_declined"}
GRID = np.round(np.arange(0.05, 0.96, 0.02), 2)


@dataclass(frozen=True)
class Asked:
    """One recorded question: whether it is answerable, which gate declined it (if one did), its candidates."""

    answerable: bool
    gated: bool
    generated: tuple[list[float], bool, bool, int] | None  # features, right, verified, words
    quoted: tuple[list[float], bool, int] | None  # features, right, words


def read_runs(folders: Sequence[Path], only: set[str] | None = None) -> list[Asked]:
    """The recorded questions of the runs (those whose id is in `only`, when given)."""
    names = Features.names()
    asked = []
    for folder in folders:
        path = folder / "answers.jsonl"
        if not path.is_file():
            raise SystemExit(f"error: {path} does not exist; run `python -m eval` first.")
        for line in path.read_text(encoding="utf-8").split("\n"):
            if not line.strip():
                continue
            row = json.loads(line)
            if only is not None and row["id"] not in only:
                continue
            by = {c["mode"]: c for c in row["candidates"]}
            gen, quote = by.get("generated"), by.get("extractive")
            asked.append(
                Asked(
                    row["answerable"],
                    row["reason"] in GATES,
                    ([gen["features"][n] for n in names], gen["correct"], gen["features"]["verified"] > 0, gen["words"])
                    if gen
                    else None,
                    ([quote["features"][n] for n in names], quote["correct"], quote["words"]) if quote else None,
                )
            )
    return asked


def logistic(x: np.ndarray, y: np.ndarray, penalty: float = PENALTY) -> dict[str, Any]:
    """An L2-penalised logistic regression of y on the standardised columns of x (Newton's method)."""
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    z = np.hstack([np.ones((len(x), 1)), np.clip((x - mean) / scale, -CLIP, CLIP)])
    w = np.zeros(z.shape[1])
    ridge = penalty * np.eye(z.shape[1])
    ridge[0, 0] = 0.0  # the bias is not penalised
    for _ in range(100):
        p = 1 / (1 + np.exp(-np.clip(z @ w, -30, 30)))
        gradient = z.T @ (p - y) + ridge @ w
        hessian = (z * (p * (1 - p))[:, None]).T @ z + ridge
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return {"weights": w[1:].tolist(), "bias": float(w[0]), "mean": mean.tolist(), "scale": scale.tolist()}


def probability(part: dict[str, Any], features: list[float]) -> float:
    """The app's own scoring (`rag.confidence.Logistic`) of recorded signals."""
    return Logistic.from_json(part).probability(Features(*features))


@dataclass(frozen=True)
class Outcome:
    """The figures of one decision rule over recorded questions."""

    questions: int
    right: int  # answerable questions answered right, and unanswerable ones declined
    answered_right: int
    answered_wrong: int
    declined_unanswerable: int
    unanswerable: int
    generated: int
    generated_right: int
    words: list[int]
    auroc: float | None

    def figures(self) -> dict[str, Any]:
        answerable = self.questions - self.unanswerable
        return {
            "questions": self.questions,
            "accuracy (answerable, right in ≤ 40 words)": self.answered_right / answerable if answerable else None,
            "unanswerable declined": self.declined_unanswerable / self.unanswerable if self.unanswerable else None,
            "wrong answers shown (of all questions)": self.answered_wrong / self.questions,
            "model's words shown, right": self.generated_right / self.generated if self.generated else None,
            "model's words shown": self.generated,
            "median words (answers shown)": float(np.median(self.words)) if self.words else None,
            "confidence AUROC": self.auroc,
        }


def probabilities(asked: Sequence[Asked], model: dict[str, Any]) -> list[tuple[float, float]]:
    """(the model's words', the quote's) probability of being right, per question (0 where there is none)."""
    return [
        (
            probability(model["generated"], q.generated[0]) if q.generated else 0.0,
            probability(model["extractive"], q.quoted[0]) if q.quoted else 0.0,
        )
        for q in asked
    ]


def decide(
    asked: Sequence[Asked],
    model: dict[str, Any],
    show_generated: float,
    show_quote: float,
    scored: Sequence[tuple[float, float]] | None = None,
) -> Outcome:
    right = answered_right = answered_wrong = declined_unanswerable = generated = generated_right = 0
    words: list[int] = []
    ranked: list[tuple[float, bool]] = []
    for q, (p_gen, p_quote) in zip(asked, scored or probabilities(asked, model), strict=True):
        likeliest = (
            (p_gen, q.generated[1]) if q.generated and p_gen >= p_quote else (p_quote, bool(q.quoted and q.quoted[1]))
        )
        ranked.append((likeliest[0], likeliest[1] and not q.gated))
        shown: tuple[bool, int, bool] | None = None  # right, words, the model's words
        if not q.gated and q.generated and q.generated[2] and p_gen >= show_generated:
            shown = (q.generated[1], q.generated[3], True)
        elif not q.gated and q.quoted and p_quote >= show_quote:
            shown = (q.quoted[1], q.quoted[2], False)
        if shown is None:
            declined_unanswerable += not q.answerable
            right += not q.answerable
            continue
        words.append(shown[1])
        generated += shown[2]
        generated_right += shown[2] and shown[0]
        answered_right += shown[0]
        answered_wrong += not shown[0]
        right += shown[0]
    unanswerable = sum(not q.answerable for q in asked)
    return Outcome(
        len(asked),
        right,
        answered_right,
        answered_wrong,
        declined_unanswerable,
        unanswerable,
        generated,
        generated_right,
        words,
        auroc(ranked),
    )


def thresholds(asked: Sequence[Asked], model: dict[str, Any]) -> tuple[float, float]:
    """The pair that shows the most right answers with at most `MAX_WRONG` of the questions answered wrongly
    (the higher pair among equals: fewer answers for the same right ones)."""
    best: tuple[tuple[int, float, float], tuple[float, float]] | None = None
    scored = probabilities(asked, model)
    for g in GRID:
        for e in GRID:
            outcome = decide(asked, model, float(g), float(e), scored)
            if outcome.answered_wrong > MAX_WRONG * outcome.questions:
                continue
            key = (outcome.answered_right, float(g), float(e))
            if best is None or key > best[0]:
                best = (key, (float(g), float(e)))
    return best[1] if best else (1.0, 1.0)


def fit(asked: Sequence[Asked]) -> dict[str, Any]:
    generated = [q.generated for q in asked if q.generated and not q.gated]
    quoted = [q.quoted for q in asked if q.quoted and not q.gated]
    model: dict[str, Any] = {
        "features": Features.names(),
        "generated": logistic(np.array([g[0] for g in generated]), np.array([float(g[1]) for g in generated])),
        "extractive": logistic(np.array([e[0] for e in quoted]), np.array([float(e[1]) for e in quoted])),
    }
    mean_index, min_index = Features.names().index("logprob_mean"), Features.names().index("logprob_min")
    model["logprob_fill"] = [
        float(np.mean([g[0][mean_index] for g in generated])),
        float(np.mean([g[0][min_index] for g in generated])),
    ]
    show_generated, show_quote = thresholds(asked, model)
    model["thresholds"] = {"generated": show_generated, "extractive": show_quote}
    return model


def halves(xquad: Path | None, seeds: Path, half: str) -> set[str]:
    """The ids of the questions of one half of the documents: the seeds' (and XQuAD-vi's, when given)."""
    ids = document_half(read_questions(seeds), half)
    return ids | article_half(xquad, half) if xquad else ids


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.fit", description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run folders to fit on (their answers.jsonl)")
    parser.add_argument("--report", nargs="*", type=Path, default=[], help="run folders to report the model on")
    parser.add_argument("--out", type=Path, default=CHECKOUT / "rag" / "confidence.json")
    parser.add_argument("--xquad", type=Path, default=None, help="the xquad_vi folder (with --articles)")
    parser.add_argument("--seeds", type=Path, default=CHECKOUT / "eval" / "seeds_qa.jsonl", help="the seeds questions")
    parser.add_argument(
        "--articles",
        choices=["a", "b"],
        default=None,
        help="fit on the questions of half of the documents only (XQuAD-vi's articles, the seeds' documents: "
        "eval.questions.article_half, document_half), and report on the other half too",
    )
    args = parser.parse_args(argv)
    if args.articles and args.xquad is None:
        parser.error("--articles needs --xquad")
    half = halves(args.xquad, args.seeds, args.articles) if args.articles else None
    other = halves(args.xquad, args.seeds, "b" if args.articles == "a" else "a") if args.articles else None
    asked = read_runs(args.runs, half)
    model = fit(asked)
    generated = sum(1 for q in asked if q.generated and not q.gated)
    quoted = sum(1 for q in asked if q.quoted and not q.gated)
    runs = " ".join(p.name for p in args.runs)
    fitted_on = " ".join(p.name for p in args.runs if read_runs([p], half))  # a run of the other half gives none
    where = f", the documents of half {args.articles}" if args.articles else ""
    command = f"python -m eval.fit {runs}" + (
        f" --xquad ../shared/data/xquad_vi --articles {args.articles}" if args.articles else ""
    )
    model["fitted"] = (
        f"logistic regressions (L2 {PENALTY}) on {generated} model answers and {quoted} quotes of "
        f"{len(asked)} questions ({fitted_on}{where}); thresholds: the most right answers with at most {MAX_WRONG:.0%} "
        f"of the questions answered wrongly; {time.strftime('%Y-%m-%d')}, `{command}`"
    )
    args.out.write_text(json.dumps(model, indent=1) + "\n", encoding="utf-8")
    g, e = model["thresholds"]["generated"], model["thresholds"]["extractive"]
    print(f"fitted on {len(asked)} questions; thresholds: model's words ≥ {g}, quote ≥ {e}; written to {args.out}")
    reports: list[tuple[str, list[Path], set[str] | None]] = [("fitted on: all of it (in-sample)", args.runs, half)]
    if other is not None:
        reports.append(("not fitted on: the other half of the documents, all runs", args.runs, other))
        for run in args.runs:
            reports.append((f"  {run.name}, fitted half (in-sample)", [run], half))
            reports.append((f"  {run.name}, other half (not fitted on)", [run], other))
    reports += [(f"not fitted on: {r.name}", [r], None) for r in args.report]
    for label, folders, ids in reports:
        chosen = read_runs(folders, ids)
        if not chosen:  # a run of one half only (`python -m eval --articles b`) has nothing in the other
            continue
        outcome = decide(chosen, model, g, e)
        print(f"\n{label}")
        for name, value in outcome.figures().items():
            print(f"  {name}: {value if not isinstance(value, float) else round(value, 3)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

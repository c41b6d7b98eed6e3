"""PNG charts of a scoring run: accuracy by question type, retrieval baselines, latency.

Drawn with matplotlib's object API (`Figure`, no pyplot state), so no display is needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from rag.types import Timings


def accuracy_by_type(
    path: Path, by_type: dict[str, dict[str, Any]], baseline: dict[str, dict[str, Any]] | None
) -> None:
    """Share correct per question type (unanswerable: declined), the run beside the extractive baseline."""
    types = sorted(by_type)
    x = np.arange(len(types))
    fig = Figure(figsize=(8, 4), layout="constrained")
    ax = fig.add_subplot()
    width = 0.4 if baseline else 0.6
    ax.bar(x - (width / 2 if baseline else 0), [by_type[t]["accuracy"] for t in types], width, label="this run")
    if baseline:
        values = [baseline.get(t, {}).get("accuracy", 0.0) for t in types]
        ax.bar(x + width / 2, values, width, label="extractive baseline (no model)")
    ax.set_xticks(x, [f"{t}\n(n={by_type[t]['questions']})" for t in types])
    ax.set_ylim(0, 1)
    ax.set_ylabel("share correct")
    ax.set_title("Answer accuracy by question type")
    fig.legend(loc="outside lower center", ncols=2)
    fig.savefig(path, dpi=100)


def retrieval(path: Path, results: dict[str, dict[str, float]]) -> None:
    """recall@1, recall@5 and MRR of the gold document for each retrieval configuration."""
    configs = list(results)
    metrics = ["recall@1", "recall@5", "mrr"]
    x = np.arange(len(configs))
    fig = Figure(figsize=(7, 4), layout="constrained")
    ax = fig.add_subplot()
    for i, metric in enumerate(metrics):
        ax.bar(x + (i - 1) * 0.27, [results[c][metric] for c in configs], 0.27, label=metric)
    ax.set_xticks(x, configs)
    low = min(results[c][m] for c in configs for m in metrics)
    ax.set_ylim(max(0.0, low - 0.1), 1)
    ax.set_title(f"Retrieval of the gold document ({int(results[configs[0]]['questions'])} questions)")
    fig.legend(loc="outside lower center", ncols=3)
    fig.savefig(path, dpi=100)


def latency(path: Path, timings: Sequence[Timings]) -> None:
    """Cumulative distribution of time to first token and total time, over the questions that called the model."""
    called = [t for t in timings if t.prompt_tokens] or list(timings)
    fig = Figure(figsize=(7, 4), layout="constrained")
    ax = fig.add_subplot()
    for key, label in (("first_token_ms", "first token"), ("total_ms", "whole answer")):
        values = np.sort([getattr(t, key) / 1000 for t in called])
        ax.step(values, np.arange(1, len(values) + 1) / max(len(values), 1), where="post", label=label)
    ax.set_xlabel("seconds")
    ax.set_ylabel("share of questions")
    ax.set_ylim(0, 1)
    ax.set_title(f"Latency ({len(called)} questions)")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.savefig(path, dpi=100)


def risk_coverage(path: Path, points: Sequence[tuple[float, float, float]], chosen: float | None = None) -> None:
    """Accuracy of the answered questions against the share answered, as the confidence threshold falls."""
    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.add_subplot()
    ax.plot([c for _, c, _ in points], [a for _, _, a in points], "-", label="answer when confidence ≥ threshold")
    if chosen is not None:
        at = min(points, key=lambda p: abs(p[0] - chosen), default=None)
        if at is not None:
            ax.plot([at[1]], [at[2]], "o", label=f"the shipped threshold ({chosen:.2f})")
    ax.set_xlabel("share of questions answered (coverage)")
    ax.set_ylabel("share of those answered right")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.set_title("Risk–coverage")
    ax.legend(loc="lower left")
    fig.savefig(path, dpi=100)


def calibration(path: Path, bins: Sequence[tuple[float, float, int]]) -> None:
    """Share right against the confidence given, per confidence bin (a calibrated model lies on the diagonal)."""
    fig = Figure(figsize=(5, 5), layout="constrained")
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], ":", color="grey", label="calibrated")
    ax.plot([m for m, _, _ in bins], [r for _, r, _ in bins], "o-", label="this run")
    for m, r, n in bins:
        ax.annotate(str(n), (m, r), textcoords="offset points", xytext=(4, -10), fontsize=8)
    ax.set_xlabel("confidence of the likeliest candidate")
    ax.set_ylabel("share right")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.set_title("Calibration (numbers: questions per bin)")
    ax.legend(loc="upper left")
    fig.savefig(path, dpi=100)

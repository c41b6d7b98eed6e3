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

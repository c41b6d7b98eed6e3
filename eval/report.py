"""A scoring run's report: its figures as Markdown tables, with the baselines beside them.

This module formats; it does not compute a figure.
"""

from __future__ import annotations

from typing import Any


def fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}" if value <= 1 else f"{value:,.0f}"
    return str(value)


BASELINE_METRICS = [
    "accuracy",
    "token_f1",
    "citation_precision",
    "citation_recall",
    "abstention_recall",
    "answers_with_unsupported_entities",
    "first_token_ms_p50",
    "total_ms_p50",
]


def report(name: str, meta: dict[str, Any], summary: dict[str, Any], by: dict[str, Any], base: dict[str, Any]) -> str:
    lines = [f"# Evaluation run `{name}`", ""]
    lines += [f"- {k}: {v}" for k, v in meta.items()]
    lines += ["", "| metric | value |", "|---|---|"]
    lines += [f"| {k} | {fmt(v)} |" for k, v in summary.items() if k != "modes"]
    lines += [f"| modes | {', '.join(f'{m}: {n}' for m, n in summary['modes'].items())} |", ""]
    for key, groups in by.items():
        lines += [f"## By {key}", "", "| group | questions | correct | share |", "|---|---|---|---|"]
        lines += [f"| {g} | {v['questions']} | {v['correct']} | {v['accuracy']:.3f} |" for g, v in groups.items()]
        lines.append("")
    if base.get("extractive"):
        extractive = base["extractive"]["summary"]
        lines += [
            "## Baseline: extractive answers (no model), same questions",
            "",
            "| metric | this run | extractive |",
            "|---|---|---|",
        ]
        lines += [f"| {k} | {fmt(summary[k])} | {fmt(extractive[k])} |" for k in BASELINE_METRICS]
        lines.append("")
    if base.get("retrieval"):
        retrieval = base["retrieval"]
        n = int(next(iter(retrieval.values()))["questions"])
        lines += [
            f"## Baselines: retrieval of the gold document ({n} answerable questions of the file)",
            "",
            "| search | recall@1 | recall@5 | MRR |",
            "|---|---|---|---|",
        ]
        lines += [f"| {c} | {r['recall@1']:.3f} | {r['recall@5']:.3f} | {r['mrr']:.3f} |" for c, r in retrieval.items()]
        lines.append("")
    return "\n".join(lines)

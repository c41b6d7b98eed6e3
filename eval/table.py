"""One Markdown table of several scoring runs, side by side: the committed summary of the reference runs.

    .venv/bin/python -m eval.table seeds-qwen0.5b seeds-qwen1.5b xquad-qwen0.5b xquad-qwen1.5b

reads `eval/results/RUN/summary.json` for each run and writes `eval/results/REFERENCE.md` (the
table, the extractive baseline of each run, the retrieval baselines of each question file) and
`eval/results/reference.json` (the runs' summaries), the two files of `eval/results/` that are
committed. The README's evaluation table is copied from REFERENCE.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eval.report import fmt
from eval.score import RESULTS
from rag.edge import run_edge
from rag.errors import ConfigError

ROWS = {
    "questions (answerable / not)": lambda s: f"{s['questions']} ({s['answerable']} / {s['unanswerable']})",
    "answer accuracy (gold in ≤ 40 words)": lambda s: fmt(s["accuracy"]),
    "gold contained (any length)": lambda s: fmt(s.get("contained")),
    "unanswerable declined": lambda s: fmt(s["abstention_recall"]),
    "wrong answers shown (share of all questions)": lambda s: fmt(s.get("wrong_shown")),
    "model's words shown: right": lambda s: fmt(s.get("generated_right")),
    "quotes shown: right": lambda s: fmt(s.get("extractive_right")),
    "median words of an answer shown": lambda s: fmt(s.get("median_words")),
    "confidence AUROC": lambda s: fmt(s.get("auroc")),
    "token F1": lambda s: fmt(s["token_f1"]),
    "citation precision / recall": lambda s: f"{fmt(s['citation_precision'])} / {fmt(s['citation_recall'])}",
    "abstention recall / precision": lambda s: f"{fmt(s['abstention_recall'])} / {fmt(s['abstention_precision'])}",
    "answerable questions declined": lambda s: str(s["false_abstentions"]),
    "answers with an unsupported number, date or name": lambda s: fmt(s["answers_with_unsupported_entities"]),
    "gold document recall@1 / @5 / MRR (answer pipeline)": lambda s: " / ".join(
        fmt(s[f"retrieval_{k}"]) for k in ("recall@1", "recall@5", "mrr")
    ),
    "first token p50 / p95 (ms)": lambda s: f"{fmt(s['first_token_ms_p50'])} / {fmt(s['first_token_ms_p95'])}",
    "whole answer p50 / p95 (ms)": lambda s: f"{fmt(s['total_ms_p50'])} / {fmt(s['total_ms_p95'])}",
    "pipeline's own share of the time": lambda s: fmt(s["pipeline_share"]),
    "modes": lambda s: ", ".join(f"{m} {n}" for m, n in sorted(s["modes"].items())),
}


EXTRACTIVE = [
    ("accuracy", "accuracy"),
    ("token F1", "token_f1"),
    ("citation precision", "citation_precision"),
    ("abstention recall", "abstention_recall"),
    ("whole answer p50 (ms)", "total_ms_p50"),
]


def load(results: Path, name: str) -> dict[str, Any]:
    path = results / name / "summary.json"
    if not path.is_file():
        raise ConfigError(f"{path} does not exist; run `python -m eval --name {name}` first.")
    result: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return result


def table(runs: dict[str, dict[str, Any]]) -> str:
    """The reference runs' metrics, one column a run, then each run's baselines."""
    names = list(runs)
    lines = ["| | " + " | ".join(f"`{n}`" for n in names) + " |", "|---" * (len(names) + 1) + "|"]
    lines.append(
        "| model, style | " + " | ".join(f"{r['meta']['model']}, {r['meta']['style']}" for r in runs.values()) + " |"
    )
    for label, cell in ROWS.items():
        lines.append(f"| {label} | " + " | ".join(cell(r["summary"]) for r in runs.values()) + " |")
    for name, run in runs.items():
        base = run.get("baselines", {})
        if base.get("extractive"):
            e = base["extractive"]["summary"]
            lines += [
                "",
                f"Extractive baseline (no model) on the questions of `{name}`: "
                + ", ".join(f"{label} {fmt(e[key])}" for label, key in EXTRACTIVE)
                + ".",
            ]
    shown: set[str] = set()
    for name, run in runs.items():
        retrieval, source = run.get("baselines", {}).get("retrieval"), run["meta"]["questions file"]
        if not retrieval or source in shown:
            continue
        shown.add(source)
        n = int(next(iter(retrieval.values()))["questions"])
        lines += [
            "",
            f"Retrieval baselines, {n} answerable questions of `{Path(source).name}` (from `{name}`):",
            "",
            "| search | recall@1 | recall@5 | MRR |",
            "|---|---|---|---|",
        ]
        lines += [f"| {c} | {r['recall@1']:.3f} | {r['recall@5']:.3f} | {r['mrr']:.3f} |" for c, r in retrieval.items()]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.table", description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", help="run names under --results")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    def run() -> int:
        runs = {name: load(args.results, name) for name in args.runs}
        text = "# Reference evaluation runs\n\n" + table(runs) + "\n"
        (args.results / "REFERENCE.md").write_text(text, encoding="utf-8")
        summaries = {
            name: {k: r[k] for k in ("meta", "summary", "by", "baselines") if k in r} for name, r in runs.items()
        }
        (args.results / "reference.json").write_text(json.dumps(summaries, indent=2, ensure_ascii=False) + "\n")
        print(text)
        return 0

    return run_edge(run)


if __name__ == "__main__":
    sys.exit(main())

"""Soak: many questions in a row in one process, and how much resident memory grows after warm-up.

The real pipeline (`Pipeline.load` with the current settings: default models, the configured
index) answers the seeds questions one after the other, follow-ups with their history, cycling
through the set. Resident memory (VmRSS, /proc/self/status) is read after the warm-up questions
and every 10 questions after; growth = (last - after warm-up) / after warm-up, and the highest
reading is reported too. Figures go to bench/results/soak.json and soak.md.

    .venv/bin/python -m bench.soak --questions 50     # what CI runs (tests/reliability)
    .venv/bin/python -m bench.soak --questions 300    # the README's figure
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from bench.results import RESULTS
from rag.config import CHECKOUT, load_settings
from rag.pipeline import Pipeline

WARM_UP = 10


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def seeds_rows() -> list[dict[str, Any]]:
    return [json.loads(line) for line in (CHECKOUT / "eval" / "seeds_qa.jsonl").open(encoding="utf-8")]


def run(
    pipeline: Pipeline,
    questions: int,
    warm_up: int = WARM_UP,
    every: int = 10,
    memory: Callable[[], float] = rss_mb,
) -> dict[str, Any]:
    """Ask `warm_up` then `questions` seeds questions in a row; memory after warm-up, every `every`, at the end."""
    rows = seeds_rows()
    modes: dict[str, int] = {}
    readings: list[tuple[int, float]] = []
    started = time.perf_counter()
    for i in range(warm_up + questions):
        row = rows[i % len(rows)]
        history = [(turn["role"], turn["content"]) for turn in row["history"]]
        answer = pipeline.ask(row["question"], history)
        if i >= warm_up:
            modes[answer.mode] = modes.get(answer.mode, 0) + 1
        done = i + 1 - warm_up
        if done == 0 or (done > 0 and (done % every == 0 or done == questions)):
            gc.collect()  # what the process holds, not garbage waiting for the collector
            readings.append((done, round(memory(), 1)))
    base, last = readings[0][1], readings[-1][1]
    return {
        "questions": questions,
        "warm_up": warm_up,
        "rss_mb_after_warm_up": base,
        "rss_mb_last": last,
        "rss_mb_highest": max(r[1] for r in readings),
        "growth": round((last - base) / base, 4),
        "growth_highest": round((max(r[1] for r in readings) - base) / base, 4),
        "readings": readings,
        "modes": dict(sorted(modes.items())),
        "seconds": round(time.perf_counter() - started, 1),
    }


def table(f: Mapping[str, Any]) -> str:
    return "\n".join(
        [
            "| soak figure | value |",
            "|---|---|",
            f"| questions in a row (after {f['warm_up']} to warm up) | {f['questions']} ({f['seconds']} s) |",
            f"| resident memory after warm-up / at the end / highest | {f['rss_mb_after_warm_up']:,} / "
            f"{f['rss_mb_last']:,} / {f['rss_mb_highest']:,} MB |",
            f"| growth at the end / at the highest | {f['growth']:.1%} / {f['growth_highest']:.1%} |",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=int, default=50, help="questions after the warm-up (default 50)")
    parser.add_argument("--warm-up", type=int, default=WARM_UP, help=f"questions before the first reading ({WARM_UP})")
    parser.add_argument("--out", type=Path, default=RESULTS / "soak.json")
    args = parser.parse_args(argv)
    if args.questions < 1 or args.warm_up < 0:
        parser.error("--questions must be at least 1 and --warm-up at least 0")
    pipeline = Pipeline.load(load_settings())
    pipeline.warm_up()
    figures = run(pipeline, args.questions, args.warm_up)
    figures |= {"cores": os.cpu_count(), "command": f"python -m bench.soak --questions {args.questions}"}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    args.out.with_suffix(".md").write_text(table(figures) + "\n", encoding="utf-8")
    print(table(figures))
    print(f"written to {args.out} and {args.out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

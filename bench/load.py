"""Load: N `/ask` requests from C concurrent clients against the running app, with nothing mixed up.

Each client is its own `gradio_client.Client` (its own session, as separate scripts or browser tabs
are). The questions are answerable seeds questions (eval/seeds_qa.jsonl), C distinct ones by default,
asked in turn. Before the load, each distinct question is asked alone and searched (`/search`, the
same k as the app's retrieval): under load, every answer must come back without error, cite only
passages retrieved for its own question, and equal its solo run (text, mode, cited passages; decoding
is greedy). Reported: errors, answers mixed up, answers differing from their solo run, latency
p50/p95, throughput, and the server's resident memory before and after.

Without `--url` it starts `rag serve` on a free 127.0.0.1 port with the current settings (the
index must exist: `rag index seeds`), and stops it at the end. The run is bounded: N requests, each
with a timeout. Figures go to bench/results/load.json and load.md; the exit code is 1 when any
request failed or was mixed up.

    .venv/bin/python -m bench.load --requests 48 --clients 8      # what CI runs (tests/reliability)
    .venv/bin/python -m bench.load --requests 200 --clients 16    # the README's figures
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.results import RESULTS
from rag.config import CHECKOUT, load_settings

REQUEST_TIMEOUT_S = 300


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def seeds_questions(n: int, seed: int = 0) -> list[str]:
    """`n` distinct answerable single-turn seeds questions, drawn with a fixed seed."""
    rows = [json.loads(line) for line in (CHECKOUT / "eval" / "seeds_qa.jsonl").open(encoding="utf-8")]
    pool = [r["question"] for r in rows if r["answerable"] and not r["history"]]
    return random.Random(seed).sample(pool, min(n, len(pool)))


@contextmanager
def served(env: Mapping[str, str] | None = None, timeout_s: float = 300) -> Iterator[tuple[str, int]]:
    """`rag serve` on a free loopback port: (url, pid) once it says it is ready; stopped afterwards."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = Path(tempfile.mkstemp(prefix="rag-serve-", suffix=".log")[1])
    process = subprocess.Popen(
        [sys.executable, "-m", "rag", "serve", "--port", str(port)],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + timeout_s
        while "ready in" not in log.read_text(errors="replace"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"rag serve did not start: {log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/", process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.unlink(missing_ok=True)


@dataclass(frozen=True)
class Outcome:
    question: str
    ms: float
    data: dict[str, Any] | None
    error: str = ""


def cited(data: Mapping[str, Any]) -> list[str]:
    return [c["chunk_id"] for c in data["citations"]]


def run(url: str, questions: list[str], requests: int, clients: int, top_k: int) -> dict[str, Any]:
    """Solo runs of each question, then `requests` asks from `clients` threads; the checks and figures."""
    from gradio_client import Client

    solo_client = Client(url, verbose=False)
    retrieved = {q: {h["id"] for h in solo_client.predict(q, top_k, api_name="/search")} for q in questions}
    solo = {q: solo_client.predict(q, [], api_name="/ask") for q in questions}

    local = threading.local()

    def ask(i: int) -> Outcome:
        question = questions[i % len(questions)]
        if not hasattr(local, "client"):
            local.client = Client(url, verbose=False)
        started = time.perf_counter()
        try:
            job = local.client.submit(question, [], api_name="/ask")
            data = job.result(timeout=REQUEST_TIMEOUT_S)
        except Exception as exc:  # every failure is counted and shown, none stops the run
            return Outcome(question, (time.perf_counter() - started) * 1000, None, f"{type(exc).__name__}: {exc}")
        return Outcome(question, (time.perf_counter() - started) * 1000, data)

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        outcomes = list(pool.map(ask, range(requests)))
    wall_s = time.perf_counter() - started

    errors = [o for o in outcomes if o.data is None]
    answered = [o for o in outcomes if o.data is not None]
    mixed = [o for o in answered if not set(cited(o.data)) <= retrieved[o.question]]  # type: ignore[arg-type]
    differing = [
        o
        for o in answered
        if (o.data["answer"], o.data["mode"], cited(o.data))  # type: ignore[index]
        != (solo[o.question]["answer"], solo[o.question]["mode"], cited(solo[o.question]))
    ]
    latencies = sorted(o.ms for o in answered)
    return {
        "requests": requests,
        "clients": clients,
        "distinct_questions": len(questions),
        "served": len(answered),
        "errors": len(errors),
        "mixed_up": len(mixed),
        "differing_from_solo": len(differing),
        "latency_ms_p50": round(statistics.median(latencies)) if latencies else None,
        "latency_ms_p95": round(percentile(latencies, 95)) if latencies else None,
        "throughput_per_s": round(len(answered) / wall_s, 3),
        "wall_s": round(wall_s, 1),
        "modes": dict(sorted(_count(o.data["mode"] for o in answered).items())),  # type: ignore[index]
        "error_examples": [o.error for o in errors[:5]],
        "differing_examples": [
            {"question": o.question, "load": o.data["answer"], "solo": solo[o.question]["answer"]}  # type: ignore[index]
            for o in differing[:5]
        ],
    }


def percentile(sorted_values: list[float], q: float) -> float:
    if len(sorted_values) == 1:
        return sorted_values[0]
    return statistics.quantiles(sorted_values, n=100, method="inclusive")[int(q) - 1]


def _count(values: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    return counts


def table(f: Mapping[str, Any]) -> str:
    return "\n".join(
        [
            "| load figure | value |",
            "|---|---|",
            f"| requests / concurrent clients / distinct questions | {f['requests']} / {f['clients']} / "
            f"{f['distinct_questions']} |",
            f"| served / errors | {f['served']} / {f['errors']} |",
            f"| answers mixed up (a citation outside the question's own retrieval) | {f['mixed_up']} |",
            f"| answers differing from the question's solo run | {f['differing_from_solo']} |",
            f"| latency p50 / p95 (queue wait included) | {f['latency_ms_p50']:,} / {f['latency_ms_p95']:,} ms |",
            f"| throughput | {f['throughput_per_s']} answers/s ({f['wall_s']} s in all) |",
            f"| server resident memory before / after | {f.get('rss_mb_before', '—')} / "
            f"{f.get('rss_mb_after', '—')} MB |",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=48, help="answers asked in all (default 48)")
    parser.add_argument("--clients", type=int, default=8, help="clients asking at once (default 8)")
    parser.add_argument("--distinct", type=int, help="distinct questions (default: one per client)")
    parser.add_argument("--url", help="an app already running (default: start `rag serve` on 127.0.0.1)")
    parser.add_argument("--out", type=Path, default=RESULTS / "load.json")
    args = parser.parse_args(argv)
    if args.requests < 1 or args.clients < 1:
        parser.error("--requests and --clients must be at least 1")

    questions = seeds_questions(args.distinct or args.clients)
    top_k = load_settings().top_k
    if args.url:
        figures = run(args.url, questions, args.requests, args.clients, top_k)
    else:
        with served() as (url, pid):
            before = rss_mb(pid)
            figures = run(url, questions, args.requests, args.clients, top_k)
            figures |= {"rss_mb_before": round(before), "rss_mb_after": round(rss_mb(pid))}
    figures |= {
        "cores": os.cpu_count(),
        "command": f"python -m bench.load --requests {args.requests} --clients {args.clients}",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    args.out.with_suffix(".md").write_text(table(figures) + "\n", encoding="utf-8")
    print(table(figures))
    print(f"written to {args.out} and {args.out.with_suffix('.md')}")
    return 1 if figures["errors"] or figures["mixed_up"] else 0


if __name__ == "__main__":
    sys.exit(main())

"""The running app's figures: time until it serves, memory idle and while answering, and how soon a person
sees, in the browser (headless chromium, one fresh page per question), the first useful words (the quoted draft,
or the model's words when there is no draft), the model's first words, and the answer with its sources.

It starts `rag serve` on a free 127.0.0.1 port with the current settings (models and the index
must be there: `make run` or `rag index seeds` first), asks seeds questions through the chat
the way a person does, and stops the server. Figures go to bench/results/app.json.

    .venv/bin/python -m bench.app --questions 10
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from bench.results import RESULTS
from rag.config import CHECKOUT
from rag.view import DRAFT, WRITING


def rss_mb(pid: int) -> tuple[float, float]:
    """(resident now, peak resident) of a process, in MB, from /proc."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


@contextmanager
def sampling(pid: int, every_s: float = 0.2) -> Iterator[list[float]]:
    """The resident memory of `pid` (MB), sampled every `every_s` while the block runs, into the list it yields."""
    samples = [rss_mb(pid)[0]]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(every_s):
            samples.append(rss_mb(pid)[0])

    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    try:
        yield samples
    finally:
        stop.set()
        watcher.join()


def questions(n: int) -> list[str]:
    rows = [json.loads(line) for line in (CHECKOUT / "eval" / "seeds_qa.jsonl").open(encoding="utf-8")]
    return [r["question"] for r in rows if r["answerable"] and not r["history"]][:n]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=int, default=10, help="seeds questions asked in the browser")
    parser.add_argument("--out", type=Path, default=RESULTS / "app.json")
    args = parser.parse_args(argv)

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/"
    log = Path(tempfile.mkstemp(prefix="rag-serve-", suffix=".log")[1])
    started = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "-m", "rag", "serve", "--port", str(port)], stdout=log.open("wb"), stderr=subprocess.STDOUT
    )
    try:
        while True:
            if server.poll() is not None:
                sys.exit(f"rag serve stopped: {log.read_text(errors='replace')[-2000:]}")
            try:
                if httpx.get(url, timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        ready_s = time.perf_counter() - started
        time.sleep(2)
        idle_mb = rss_mb(server.pid)[0]
        figures = browse(url, questions(args.questions), server.pid)
        peak_mb = rss_mb(server.pid)[1]
        figures |= {"ready_s": round(ready_s, 2), "idle_rss_mb": round(idle_mb), "peak_rss_mb": round(peak_mb)}
    finally:
        server.terminate()
        server.wait(timeout=30)
    figures |= {"cores": os.cpu_count(), "command": "python -m bench.app --questions " + str(args.questions)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=1, ensure_ascii=False), encoding="utf-8")
    print(f"| server ready | {figures['ready_s']:.1f} s |")
    print(
        f"| first useful words visible (the draft, else the model's), p50 / p95 | "
        f"{figures['first_visible_ms_p50']:,} / {figures['first_visible_ms_p95']:,} ms |"
    )
    print(
        f"| the draft visible, p50 over the {figures['drafted']} of {figures['questions']} questions that had one | "
        f"{figures['draft_ms_p50'] or 0:,} ms |"
    )
    print(
        f"| the model's first words visible, p50 / p95 | {figures['model_first_ms_p50']:,} / "
        f"{figures['model_first_ms_p95']:,} ms |"
    )
    print(f"| answer and sources shown, p50 / p95 | {figures['done_ms_p50']:,} / {figures['done_ms_p95']:,} ms |")
    print(
        f"| resident memory idle / while answering (max sampled) / peak | {figures['idle_rss_mb']:,} / "
        f"{figures['answering_rss_mb']:,} / {figures['peak_rss_mb']:,} MB |"
    )
    print(f"written to {args.out}")
    return 0


def browse(url: str, asked: list[str], pid: int) -> dict[str, Any]:
    """Ask each question on a fresh page; time from the click to the first words, and to the sources panel."""
    from bench.browser import chromium_page

    first, model, done, drafts = [], [], [], []
    last_bot = (
        "const m = document.querySelectorAll('#chat .bot'); const t = m.length ? m[m.length - 1].innerText.trim() : '';"
    )
    with sampling(pid) as sampled, chromium_page() as page:
        for question in asked:
            page.goto(url)
            page.fill("#question textarea", question)
            clicked = time.perf_counter()
            page.click("#send")
            # the placeholder "…" is replaced by the draft, or by the first streamed words, or by the final answer
            page.wait_for_function(f"() => {{ {last_bot} return t && t !== '…'; }}", timeout=120_000)
            first.append((time.perf_counter() - clicked) * 1000)
            if DRAFT in page.inner_text("#chat"):  # the quote came first (only when it clears its threshold)
                drafts.append(first[-1])
            # the model's words below the draft; without a draft, they were the first words
            page.wait_for_function(
                f"() => {{ {last_bot} return !!document.querySelector('#sources .rag-mode') || "
                f"!t.includes({json.dumps(DRAFT)}) || t.includes({json.dumps(WRITING)}); }}",
                timeout=120_000,
            )
            model.append((time.perf_counter() - clicked) * 1000)
            page.wait_for_selector("#sources .rag-mode", timeout=120_000)
            done.append((time.perf_counter() - clicked) * 1000)

    def pct(values: list[float], q: float) -> int:
        return round(statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]) if len(values) > 1 else 0

    return {
        "questions": len(asked),
        "first_visible_ms": [round(v) for v in first],
        "first_visible_ms_p50": round(statistics.median(first)),
        "first_visible_ms_p95": pct(first, 95),
        "model_first_ms": [round(v) for v in model],
        "model_first_ms_p50": round(statistics.median(model)),
        "model_first_ms_p95": pct(model, 95),
        "drafted": len(drafts),
        "draft_ms": [round(v) for v in drafts],
        "draft_ms_p50": round(statistics.median(drafts)) if drafts else None,
        "done_ms_p50": round(statistics.median(done)),
        "done_ms_p95": pct(done, 95),
        "answering_rss_mb": round(max(sampled)),
    }


if __name__ == "__main__":
    sys.exit(main())

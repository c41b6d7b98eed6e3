"""The running app's resident memory with the default models: idle, and while answering over the API.

`rag serve` starts on a free 127.0.0.1 port (over the seeds, indexed into a temporary folder), and is read
from /proc after it says it is ready and has sat idle for two seconds; then seeds questions go to
`/ask` through `gradio_client` one after another while its memory is sampled every 0.2 s.
Reported: idle, the highest sample while answering, and the kernel's peak (VmHWM).

    .venv/bin/python -m bench.memory --questions 5
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.app import rss_mb, sampling
from bench.load import seeds_questions, served
from bench.results import RESULTS


@dataclass(frozen=True)
class MemoryRow:
    questions: int
    idle_rss_mb: int
    answering_rss_mb: int  # the highest sample while answering
    peak_rss_mb: int  # the kernel's high-water mark (VmHWM)


def run(questions: int, index_dir: Path | None = None) -> MemoryRow:
    """The app over `index_dir`, or over the seeds indexed afresh into a temporary folder (never the user's index)."""
    if index_dir is None:
        from bench.generation import seeds_index
        from rag.config import load_settings

        with tempfile.TemporaryDirectory(prefix="rag-memory-") as tmp:
            return run(questions, seeds_index(load_settings(), Path(tmp) / "index"))
    from gradio_client import Client

    env = dict(os.environ) | {"RAG_INDEX_DIR": str(index_dir)}
    with served(env) as (url, pid):
        time.sleep(2)
        idle = rss_mb(pid)[0]
        with sampling(pid) as sampled:
            client = Client(url, verbose=False)
            for question in seeds_questions(questions):
                client.predict(question, [], api_name="/ask")
        peak = rss_mb(pid)[1]
    row = MemoryRow(questions, round(idle), round(max(sampled)), round(peak))
    print(row, flush=True)
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=int, default=5)
    parser.add_argument("--out", type=Path, default=RESULTS / "memory.json")
    args = parser.parse_args(argv)
    from bench.results import save
    from rag.edge import run_edge

    return run_edge(lambda: save(run(args.questions), args.out))


if __name__ == "__main__":
    sys.exit(main())

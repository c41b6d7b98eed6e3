"""Calibrate `RAG_ABSTAIN_BELOW`: the retrieval score under which the pipeline abstains without asking the model.

For every question of a question file (default the seeds set), the standalone query the pipeline
would use is retrieved and the highest e5 cosine among its passages recorded (what the pipeline
tests). The threshold chosen maximises (unanswerable questions caught) − `MISS_COST` × (answerable
questions lost), and sits halfway
between the two scores it separates, so it is not tuned to one question's third decimal.

    .venv/bin/python -m eval.calibrate [--questions PATH] [--corpus PATH ...]

It prints the table of candidate thresholds and writes `eval/results/calibration.json`; the
default in `rag/config.py` is the value this printed for the default embedder over `seeds/`.
The cosine depends on the embedder: calibrate again for another one.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from eval.score import read_questions
from rag import index as store
from rag import indexing
from rag.answer import standalone
from rag.cli import load_embedder, run_edge
from rag.config import CHECKOUT, load_settings
from rag.progress import ConsoleProgress
from rag.retrieve import Retriever

MISS_COST = 2  # refusing an answerable question costs twice what catching an unanswerable one gains


def choose(answerable: Sequence[float], unanswerable: Sequence[float]) -> tuple[float, int, int]:
    """(threshold, unanswerable caught, answerable lost) maximising caught − MISS_COST × lost.

    >>> choose([0.90, 0.86, 0.95], [0.80, 0.84, 0.91])
    (0.85, 2, 0)
    """
    scores = sorted(set(answerable) | set(unanswerable))
    best = (0.0, 0, 0)
    for low, high in itertools.pairwise(scores):
        t = round((low + high) / 2, 3)
        caught = sum(s < t for s in unanswerable)
        lost = sum(s < t for s in answerable)
        if caught - MISS_COST * lost > best[1] - MISS_COST * best[2]:
            best = (t, caught, lost)
    return best


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.calibrate", description=__doc__.split("\n")[0])
    parser.add_argument("--questions", type=Path, default=CHECKOUT / "eval" / "seeds_qa.jsonl")
    parser.add_argument("--corpus", type=Path, nargs="+", default=[CHECKOUT / "seeds"])
    parser.add_argument("--out", type=Path, default=CHECKOUT / "eval" / "results" / "calibration.json")
    args = parser.parse_args(argv)

    def run() -> int:
        questions = read_questions(args.questions)
        with tempfile.TemporaryDirectory() as tmp:
            settings = load_settings(index_dir=Path(tmp) / "index")
            embedder = load_embedder(settings)
            with ConsoleProgress(Console(stderr=True)) as progress:
                indexing.update(args.corpus, embedder, settings, progress=progress)
            retriever = Retriever(store.load(settings.index_path), embedder, settings.dense_weight, settings.fusion)
            scores = {True: [], False: []}  # type: dict[bool, list[float]]
            for q in questions:
                query, _ = standalone(q.question, [(t.role, t.content) for t in q.history])
                hits = retriever.search(query, k=1)
                scores[q.answerable].append(max((h.dense for h in hits), default=0.0))
        threshold, caught, lost = choose(scores[True], scores[False])
        print(f"{len(scores[True])} answerable, {len(scores[False])} unanswerable questions")
        print(f"best-passage cosine: answerable min {min(scores[True]):.3f}, unanswerable max {max(scores[False]):.3f}")
        print(f"RAG_ABSTAIN_BELOW={threshold}: catches {caught} of {len(scores[False])} unanswerable questions, "
              f"loses {lost} of {len(scores[True])} answerable ones")  # fmt: skip
        args.out.parent.mkdir(parents=True, exist_ok=True)
        result = {
            "threshold": threshold,
            "caught": caught,
            "lost": lost,
            "scores": {str(k): v for k, v in scores.items()},
        }
        args.out.write_text(json.dumps(result, indent=2) + "\n")
        return 0

    return run_edge(run)


if __name__ == "__main__":
    sys.exit(main())

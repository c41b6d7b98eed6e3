"""Calibrate `RAG_ABSTAIN_BELOW`: the retrieval score under which the pipeline abstains without asking the model.

For every question of a question file (default the seeds set), the standalone query the pipeline
would use is retrieved and the highest e5 cosine among its top passages recorded (what the pipeline
tests). `--xquad` adds XQuAD-vi's 1,190 answerable questions over their own 240 paragraphs, so a
threshold that suits the seeds but refuses general-domain questions shows up as lost answers.
The threshold chosen maximises (unanswerable questions caught) − `MISS_COST` × (answerable
questions lost), and sits halfway between the two scores it separates, so it is not tuned to one
question's third decimal.

    .venv/bin/python -m eval.calibrate [--questions PATH] [--corpus PATH ...] [--xquad ../shared/data/xquad_vi]

It prints the chosen threshold, what it catches and loses, and writes `eval/results/calibration.json`; the
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

import numpy as np
from rich.console import Console

from eval.questions import Question, read_questions, read_xquad
from rag import embed, indexing
from rag.answer import standalone
from rag.config import CHECKOUT, load_settings
from rag.edge import run_edge
from rag.progress import ConsoleProgress
from rag.retrieve import Retriever
from rag.storage import open_store

MISS_COST = 2  # refusing an answerable question costs twice what catching an unanswerable one gains


def choose(answerable: Sequence[float], unanswerable: Sequence[float]) -> tuple[float, int, int]:
    """(threshold, unanswerable caught, answerable lost) maximising caught − MISS_COST × lost.

    Among equally good thresholds the highest that loses no more answerable questions wins: when no
    threshold pays off, it sits just under the lowest answerable score, so it still declines questions
    further from the documents than any answerable one seen.

    >>> choose([0.90, 0.86, 0.95], [0.80, 0.84, 0.91])
    (0.85, 2, 0)
    >>> choose([0.805, 0.90], [0.85, 0.92])
    (0.8, 0, 0)
    """
    scores = sorted(set(answerable) | set(unanswerable))
    candidates = [round(scores[0] - 0.005, 3)] + [round((a + b) / 2, 3) for a, b in itertools.pairwise(scores)]
    rated = []
    for t in candidates:
        caught, lost = sum(s < t for s in unanswerable), sum(s < t for s in answerable)
        rated.append(((caught - MISS_COST * lost, -lost, t), (t, caught, lost)))
    return max(rated)[1]


def best_cosines(questions: Sequence[Question], corpus: Sequence[Path]) -> dict[bool, list[float]]:
    """Per question (answerable or not), the highest e5 cosine among the passages the pipeline would retrieve."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(index_dir=Path(tmp) / "index")
        embedder = embed.from_settings(settings)
        with ConsoleProgress(Console(stderr=True)) as progress:
            indexing.update(corpus, embedder, settings, progress=progress)
        retriever = Retriever(open_store(settings).load(), embedder, settings.dense_weight, settings.fusion)
        scores: dict[bool, list[float]] = {True: [], False: []}
        for q in questions:
            query, _ = standalone(q.question, [t.turn() for t in q.history])
            hits = retriever.search(query, k=settings.top_k)
            scores[q.answerable].append(max((h.dense for h in hits), default=0.0))
    return scores


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.calibrate", description=__doc__.split("\n")[0])
    parser.add_argument("--questions", type=Path, default=CHECKOUT / "eval" / "seeds_qa.jsonl")
    parser.add_argument("--corpus", type=Path, nargs="+", default=[CHECKOUT / "seeds"])
    parser.add_argument(
        "--xquad",
        type=Path,
        default=None,
        help="also keep XQuAD-vi's answerable questions (this xquad_vi folder) above the threshold",
    )
    parser.add_argument("--out", type=Path, default=CHECKOUT / "eval" / "results" / "calibration.json")
    args = parser.parse_args(argv)

    def run() -> int:
        scores = best_cosines(read_questions(args.questions), args.corpus)
        if args.xquad:  # answerable questions over another corpus, which the threshold must not refuse either
            xquad = best_cosines(read_xquad(args.xquad), [args.xquad / "corpus_contexts"])
            print(
                f"XQuAD-vi: {len(xquad[True])} answerable questions, best-passage cosine min "
                f"{min(xquad[True]):.3f}, p5 {np.percentile(xquad[True], 5):.3f}"
            )
            scores[True] += xquad[True]
        threshold, caught, lost = choose(scores[True], scores[False])
        print(f"{len(scores[True])} answerable, {len(scores[False])} unanswerable questions")
        print(f"best-passage cosine: answerable min {min(scores[True]):.3f}, unanswerable max {max(scores[False]):.3f}")
        print(
            f"RAG_ABSTAIN_BELOW={threshold}: catches {caught} of {len(scores[False])} unanswerable questions, "
            f"loses {lost} of {len(scores[True])} answerable ones"
        )
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

"""Score answers: run the real pipeline over a question file and measure what a user relies on.

    .venv/bin/python -m eval [--questions PATH] [--corpus PATH ...] [--limit N] [--seed S]
                             [--model NAME] [--style auto|extractive] [--name RUN]
    .venv/bin/python -m eval --xquad ../shared/data/xquad_vi [--distractors N] ...

The corpus (default `seeds/`) is indexed into `eval/results/.index/<corpus>` (incremental, so a
second run embeds nothing), the configured models are loaded once, and every question is asked
with its history. Per question the raw result goes to `eval/results/RUN/answers.jsonl`; the
metrics to `summary.json` and `report.md`. Gold and answer are compared after `rag.text.fold`
(NFC, tone marks, case, punctuation, number formats).

Metrics: answer accuracy on answerable questions (an acceptable answer contained, or all parts of
`answers_all`); token F1 against the best acceptable answer; citation precision (cited passages from
a gold document) and recall (gold documents cited); abstention precision and recall (an unanswerable
question is the positive class); unsupported entities (numbers, dates, names of an answer that occur
in none of its cited passages); time to first token and total time p50/p95, and the pipeline's own
share of the time beyond llama.cpp's prompt evaluation and generation; retrieval recall@1/@5 and MRR
of the gold document; broken down by question type and answer mode.

Baselines in the same run: the retrieval of every answerable question of the file with dense-only,
BM25-only, hybrid and RRF search (`eval/baselines.py`), and the extractive answerer (no model: the
best evidence sentences, quoted) on the same questions, so what the model adds is visible. Charts
(`eval/charts.py`) go beside the report.

`--xquad DIR` scores XQuAD-vi instead (`../shared/data/xquad_vi`): the 240 paragraph files are the
corpus, a question's `source_context` its gold document, its one answer the gold answer; the
answers are scored on a seeded sample of 300 questions (`--limit`), retrieval on all 1,190.
`--distractors N` adds the first N viwiki passages (articles on XQuAD topics left out).
This module scores; it does not retrieve or generate (it calls `rag`).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rich import progress as bars
from rich.console import Console

from eval import baselines, charts
from eval.metrics import Row, best, breakdown, calibration, record, risk_coverage, summarise
from eval.questions import (
    Group,
    Question,
    article_half,
    read_questions,
    read_xquad,
    seeds_near_miss,
    xquad_near_miss,
)
from eval.report import report
from eval.xquad_retrieval import write_distractors
from rag import embed, indexing
from rag.config import CHECKOUT, load_settings
from rag.edge import run_edge
from rag.pipeline import Pipeline
from rag.progress import ConsoleProgress
from rag.storage import open_store

__all__ = ["Question", "breakdown", "draw", "main", "read_xquad", "report", "summarise"]

RESULTS = CHECKOUT / "eval" / "results"
XQUAD_SAMPLE = 300  # XQuAD-vi questions answered per run (retrieval is measured on all of them)
XQUAD_NEAR_MISS_SAMPLE = 450  # near-miss questions answered per run,
NEAR_MISS_SHARE = 1 / 3  # a third of them unanswerable


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval", description="Score the answer pipeline on a question set.")
    parser.add_argument("--questions", type=Path, default=CHECKOUT / "eval" / "seeds_qa.jsonl")
    parser.add_argument("--corpus", type=Path, nargs="+", default=[CHECKOUT / "seeds"], help="files or folders")
    parser.add_argument("--xquad", type=Path, default=None, help="score XQuAD-vi from this folder instead")
    parser.add_argument("--distractors", type=int, default=0, help="with --xquad: add the first N viwiki passages")
    parser.add_argument(
        "--near-miss",
        action="store_true",
        help="the near-miss abstention set: with --xquad, one paragraph of each article held out (seeded by --seed); "
        "without, every answerable seeds question asked with its gold documents left out",
    )
    parser.add_argument("--viwiki", type=Path, default=None, help="the viwiki folder (default: beside --xquad)")
    sample = f"answer N questions, a seeded sample (default: all; {XQUAD_SAMPLE} with --xquad)"
    parser.add_argument("--limit", type=int, default=None, help=sample)
    parser.add_argument(
        "--articles",
        choices=["a", "b"],
        default=None,
        help="with --xquad --near-miss: only the sampled questions on half of the articles (eval/fit.py fits on one)",
    )
    parser.add_argument("--seed", type=int, default=0, help="the sample's seed (with --limit)")
    parser.add_argument("--model", default=None, help="manifest language model (default: RAG_LLM)")
    parser.add_argument("--style", choices=["auto", "extractive"], default=None, help="RAG_ANSWER_STYLE for this run")
    parser.add_argument("--no-baselines", action="store_true", help="skip the retrieval and extractive baselines")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where run folders go (default eval/results)")
    parser.add_argument("--name", default=None, help="run name: results go to eval/results/NAME/")
    args = parser.parse_args(argv)
    if args.distractors and not args.xquad:
        parser.error("--distractors needs --xquad")
    if args.articles and not (args.xquad and args.near_miss):
        parser.error("--articles goes with --xquad --near-miss")
    if args.near_miss and args.distractors:
        parser.error("--near-miss takes no --distractors")
    if args.near_miss and not args.xquad and len(args.corpus) != 1:
        parser.error("--near-miss over the seeds needs one --corpus folder")
    return run_edge(lambda: evaluate(args))


def sample(
    questions: list[Question], limit: int | None, seed: int, unanswerable: float | None = None
) -> list[Question]:
    """A seeded sample of `limit` questions (all of them when no limit), unanswerable ones in the set's share or in
    the share `unanswerable` asks for (as far as there are enough)."""
    if limit is None or limit >= len(questions):
        return questions
    rng = random.Random(seed)
    cannot = [q for q in questions if not q.answerable]
    answerable = [q for q in questions if q.answerable]
    share = len(cannot) / len(questions) if unanswerable is None else unanswerable
    few = min(len(cannot), round(limit * share), limit)
    chosen = rng.sample(answerable, min(len(answerable), limit - few)) + rng.sample(cannot, few)
    return sorted(chosen, key=lambda q: q.id)


def groups(args: argparse.Namespace) -> tuple[list[Group], list[Question], str, int | None]:
    """What the run asks, over which corpora: (groups, every question for the retrieval baselines, the set's
    name, the sample size)."""
    if args.xquad and args.near_miss:
        group, every = xquad_near_miss(args.xquad, args.seed)
        limit = XQUAD_NEAR_MISS_SAMPLE if args.limit is None else args.limit
        chosen = sample(every, limit, args.seed, NEAR_MISS_SHARE)
        if args.articles:  # the same sample, on half of the articles only
            half = article_half(args.xquad, args.articles)
            chosen = [q for q in chosen if q.id in half]
        return [Group(group.key, group.corpus, chosen)], every, "xquad-near-miss", limit
    if args.xquad:
        every = read_xquad(args.xquad)
        corpus = [args.xquad / "corpus_contexts"]
        if args.distractors:
            viwiki = args.viwiki or args.xquad.parent / "viwiki"
            corpus.append(write_distractors(viwiki, args.distractors, args.results / ".distractors"))
        limit = XQUAD_SAMPLE if args.limit is None else args.limit
        key = "-".join(p.resolve().name for p in corpus)
        return [Group(key, corpus, sample(every, limit, args.seed))], every, f"xquad{args.distractors or ''}", limit
    every = read_questions(args.questions)
    if args.near_miss:
        (folder,) = args.corpus
        near = seeds_near_miss(every, folder)
        chosen = {q.id for q in sample([q for g in near for q in g.questions], args.limit, args.seed)}
        picked = [Group(g.key, g.corpus, [q for q in g.questions if q.id in chosen]) for g in near]
        return [g for g in picked if g.questions], [], f"{args.questions.stem}-near-miss", args.limit
    key = "-".join(p.resolve().name for p in args.corpus)
    return [Group(key, list(args.corpus), sample(every, args.limit, args.seed))], every, args.questions.stem, args.limit


def evaluate(args: argparse.Namespace) -> int:
    err = Console(stderr=True)
    asked, every, source, limit = groups(args)
    overrides: dict[str, Any] = {"llm": args.model} if args.model else {}
    if args.style:
        overrides["answer_style"] = args.style
    settings = load_settings(**overrides)
    embedder = embed.from_settings(settings)
    indexes = {}
    with ConsoleProgress(err) as progress:
        for group in asked:
            indexes[group.key] = settings.model_copy(update={"index_dir": args.results / ".index" / group.key})
            indexing.update(group.corpus, embedder, indexes[group.key], prune=True, progress=progress)
    err.print(f"loading {settings.llm_url or settings.llm}…")
    pipeline = Pipeline.load(indexes[asked[0].key])
    name = args.name or f"{source}-{pipeline.generator.name}-{settings.answer_style}"
    out = args.results / name
    out.mkdir(parents=True, exist_ok=True)
    extractive = not args.no_baselines and settings.answer_style != "extractive"  # same pipeline, no model call
    rows, baseline_rows = [], []
    columns = (
        bars.TextColumn("{task.description}"),
        bars.BarColumn(),
        bars.MofNCompleteColumn(),
        bars.TimeElapsedColumn(),
    )
    total = sum(len(g.questions) for g in asked)
    with (out / "answers.jsonl").open("w", encoding="utf-8") as f, bars.Progress(*columns, console=err) as bar:
        task = bar.add_task("answering", total=total)
        for group in asked:
            pipeline.retriever.use(open_store(indexes[group.key]).load())
            for q in group.questions:
                history = [t.turn() for t in q.history]
                row = record(q, pipeline.ask(q.question, history))
                rows.append(row)
                f.write(json.dumps(asdict(row), ensure_ascii=False) + "\n")
                if extractive:
                    baseline_rows.append(record(q, pipeline.ask(q.question, history, style="extractive")))
                bar.advance(task)
        base: dict[str, Any] = {}
        if not args.no_baselines and every:
            search = bar.add_task("retrieval baselines", total=baselines.steps(every))
            retriever = pipeline.retriever
            base["retrieval"] = baselines.retrieval(
                retriever.index, retriever.embedder, every, lambda: bar.advance(search)
            )
    summary = summarise(rows)
    by = {"type": breakdown(rows, "type"), "mode": breakdown(rows, "mode")}
    if baseline_rows:
        base["extractive"] = {"summary": summarise(baseline_rows), "by": {"type": breakdown(baseline_rows, "type")}}
        with (out / "answers-extractive.jsonl").open("w", encoding="utf-8") as f:
            f.writelines(json.dumps(asdict(row), ensure_ascii=False) + "\n" for row in baseline_rows)
    meta = {
        "questions file": str(args.xquad / "questions.jsonl" if args.xquad else args.questions),
        "set": source,
        "corpus": ", ".join(
            sorted({str(p) for g in asked for p in (g.corpus if len(g.corpus) < 10 else [g.corpus[0].parent])})
        ),
        "distractors": args.distractors,
        "model": pipeline.generator.name,
        "style": settings.answer_style,
        "limit": limit,
        "seed": args.seed,
        "threads": settings.n_threads,
        "evidence_tokens": settings.evidence_tokens,
        "passage_headers": settings.passage_headers,
        "confidence model": pipeline.confidence.fitted,
    }
    result = {"meta": meta, "summary": summary, "by": by, "baselines": base}
    (out / "summary.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    text = report(name, meta, summary, by, base)
    (out / "report.md").write_text(text + "\n", encoding="utf-8")
    draw(out, rows, by, base)
    print(text)
    print(f"\nresults in {out}")
    return 0


def draw(out: Path, rows: Sequence[Row], by: dict[str, Any], base: dict[str, Any]) -> None:
    """The run's PNG charts beside its report."""
    extractive_by_type = base["extractive"]["by"]["type"] if base.get("extractive") else None
    charts.accuracy_by_type(out / "accuracy_by_type.png", by["type"], extractive_by_type)
    charts.latency(out / "latency.png", [r.timings for r in rows])
    scored = [best(r) for r in rows]
    charts.risk_coverage(out / "risk_coverage.png", risk_coverage(scored))
    charts.calibration(out / "calibration.png", calibration(scored))
    if base.get("retrieval"):
        charts.retrieval(out / "retrieval.png", base["retrieval"])


if __name__ == "__main__":
    sys.exit(main())

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
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from eval import baselines, charts
from eval.xquad_retrieval import rank_metrics, write_distractors
from rag import embed, indexing
from rag.config import CHECKOUT, load_settings
from rag.edge import run_edge
from rag.errors import ConfigError
from rag.payloads import TurnIn
from rag.pipeline import Pipeline
from rag.progress import ConsoleProgress
from rag.text import contains, fold
from rag.types import Answer
from rag.verify import entities

RESULTS = CHECKOUT / "eval" / "results"
XQUAD_SAMPLE = 300  # XQuAD-vi questions answered per run (retrieval is measured on all of them)
MARKERS = re.compile(r"\[\d+\]")  # citation markers in an answer


class Question(BaseModel):
    """One line of a question file (eval/README.md)."""

    id: str
    question: str
    history: list[TurnIn] = []
    answers: list[str] = []
    answers_all: list[str] = []
    sources: list[str] = []
    answerable: bool = True
    type: str = "fact"


def read_questions(path: Path) -> list[Question]:
    questions = []
    for number, line in enumerate(path.read_text(encoding="utf-8").split("\n"), 1):
        if line.strip():
            try:
                questions.append(Question.model_validate_json(line))
            except ValidationError as exc:
                raise ConfigError(f"{path}:{number} is not a question object: {exc.errors()[0]['msg']}") from None
    return questions


def read_xquad(folder: Path) -> list[Question]:
    """XQuAD-vi's questions (`questions.jsonl` of `../shared/data/xquad_vi`) as question objects.

    The gold document is the question's paragraph file (`source_context`), the gold answer its one answer.
    """
    path = folder / "questions.jsonl"
    if not path.is_file():
        raise ConfigError(f"{path} does not exist; --xquad takes the xquad_vi folder (../shared/data/xquad_vi).")
    questions = []
    for line in path.read_text(encoding="utf-8").split("\n"):
        if line.strip():
            row = json.loads(line)
            questions.append(
                Question(
                    id=str(row["id"]),
                    question=row["question"],
                    answers=row["answers"],
                    sources=[row["source_context"]],
                    type="xquad",
                )
            )
    return questions


def correct(answer: str, q: Question) -> bool:
    """Whether the answer holds an acceptable answer (or every part of a list answer), after `fold`.

    Citation markers are not answer text: "[1]" does not make an answer "1" correct.

    >>> correct("Có 30087 công văn.", Question(id="x", question="?", answers=["30.087"]))
    True
    >>> correct("Có nhiều nhóm [1].", Question(id="x", question="?", answers=["1"]))
    False
    """
    text = fold(MARKERS.sub(" ", answer))
    if q.answers_all:
        return all(contains(text, fold(a)) for a in q.answers_all)
    return any(contains(text, fold(a)) for a in q.answers)


def token_f1(answer: str, gold: str) -> float:
    """SQuAD-style token F1 over folded syllables.

    >>> round(token_f1("có 17 luật", "17 luật"), 3)
    0.8
    """
    a, g = fold(MARKERS.sub(" ", answer)).split(), fold(gold).split()
    common = sum((Counter(a) & Counter(g)).values())
    if not common:
        return 0.0
    precision, recall = common / len(a), common / len(g)
    return 2 * precision * recall / (precision + recall)


def unsupported(answer: Answer) -> list[str]:
    """Numbers, dates and names of the answer's text that none of its cited passages holds."""
    if answer.mode == "abstained":
        return []
    cited = fold(" ".join(f"{c.title} {c.date or ''} {c.text}" for c in answer.citations))
    text = MARKERS.sub(" ", answer.text)
    return [e for e in entities(text) if fold(e) and not contains(cited, fold(e))]


def record(q: Question, answer: Answer) -> dict[str, Any]:
    """One question's result, as written to answers.jsonl."""
    names = [Path(d).name for d in answer.retrieved]
    gold = set(q.sources)
    rank = next((i + 1 for i, name in enumerate(names) if name in gold), None)
    cited_docs = [c.doc for c in answer.citations]
    golds = q.answers_all or q.answers
    return {
        "id": q.id,
        "type": q.type,
        "answerable": q.answerable,
        "question": q.question,
        "answer": answer.text,
        "mode": answer.mode,
        "correct": correct(answer.text, q) if q.answerable else answer.mode == "abstained",
        "f1": max((token_f1(answer.text, g) for g in golds), default=0.0) if q.answerable else None,
        "citations": cited_docs,
        "cited_gold": [d in gold for d in cited_docs],
        "gold_cited": [s in cited_docs for s in q.sources],
        "unsupported": unsupported(answer),
        "gold_rank": rank,
        "reply": answer.reply,
        "why": answer.why,
        "timings": asdict(answer.timings),
    }


def percentile(values: Sequence[float], p: float) -> float | None:
    return float(np.percentile(values, p)) if len(values) else None


def summarise(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    answered = [r for r in rows if r["mode"] != "abstained"]
    abstained = [r for r in rows if r["mode"] == "abstained"]
    cited = [c for r in answerable for c in r["cited_gold"]]
    gold_cited = [g for r in answerable if r["mode"] != "abstained" for g in r["gold_cited"]]
    timings = [r["timings"] for r in rows]
    generated = [t for t in timings if t["prompt_tokens"]]
    own = [t["total_ms"] - t["prompt_ms"] - t["generate_ms"] for t in generated]

    def share(part: list[Any], whole: list[Any]) -> float | None:
        return len(part) / len(whole) if whole else None

    return {
        "questions": len(rows),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "accuracy": share([r for r in answerable if r["correct"]], answerable),
        "token_f1": float(np.mean([r["f1"] for r in answerable])) if answerable else None,
        "citation_precision": share([c for c in cited if c], cited),
        "citation_recall": share([g for g in gold_cited if g], gold_cited),
        "abstention_recall": share([r for r in unanswerable if r["mode"] == "abstained"], unanswerable),
        "abstention_precision": share([r for r in abstained if not r["answerable"]], abstained),
        "false_abstentions": len([r for r in answerable if r["mode"] == "abstained"]),
        "answers_with_unsupported_entities": share([r for r in answered if r["unsupported"]], answered),
        "unsupported_entities": sum(len(r["unsupported"]) for r in answered),
        **{f"retrieval_{k}": v for k, v in rank_metrics([r["gold_rank"] for r in answerable]).items()},
        "first_token_ms_p50": percentile([t["first_token_ms"] for t in timings], 50),
        "first_token_ms_p95": percentile([t["first_token_ms"] for t in timings], 95),
        "total_ms_p50": percentile([t["total_ms"] for t in timings], 50),
        "total_ms_p95": percentile([t["total_ms"] for t in timings], 95),
        "model_called": len(generated),
        "first_token_ms_p50_model_called": percentile([t["first_token_ms"] for t in generated], 50),
        "total_ms_p50_model_called": percentile([t["total_ms"] for t in generated], 50),
        "prompt_tokens_p50": percentile([t["prompt_tokens"] for t in generated], 50),
        "pipeline_ms_p50": percentile(own, 50),
        "pipeline_share": sum(own) / sum(t["total_ms"] for t in generated) if generated else None,
        "modes": dict(Counter(r["mode"] for r in rows)),
    }


def breakdown(rows: Sequence[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        groups[str(r[key])].append(r)
    return {
        name: {
            "questions": len(g),
            "correct": sum(r["correct"] for r in g),
            "accuracy": sum(r["correct"] for r in g) / len(g),
        }
        for name, g in sorted(groups.items())
    }


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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval", description="Score the answer pipeline on a question set.")
    parser.add_argument("--questions", type=Path, default=CHECKOUT / "eval" / "seeds_qa.jsonl")
    parser.add_argument("--corpus", type=Path, nargs="+", default=[CHECKOUT / "seeds"], help="files or folders")
    parser.add_argument("--xquad", type=Path, default=None, help="score XQuAD-vi from this folder instead")
    parser.add_argument("--distractors", type=int, default=0, help="with --xquad: add the first N viwiki passages")
    parser.add_argument("--viwiki", type=Path, default=None, help="the viwiki folder (default: beside --xquad)")
    sample = f"answer N questions, a seeded sample (default: all; {XQUAD_SAMPLE} with --xquad)"
    parser.add_argument("--limit", type=int, default=None, help=sample)
    parser.add_argument("--seed", type=int, default=0, help="the sample's seed (with --limit)")
    parser.add_argument("--model", default=None, help="manifest language model (default: RAG_LLM)")
    parser.add_argument("--style", choices=["auto", "extractive"], default=None, help="RAG_ANSWER_STYLE for this run")
    parser.add_argument("--no-baselines", action="store_true", help="skip the retrieval and extractive baselines")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where run folders go (default eval/results)")
    parser.add_argument("--name", default=None, help="run name: results go to eval/results/NAME/")
    args = parser.parse_args(argv)
    if args.distractors and not args.xquad:
        parser.error("--distractors needs --xquad")
    return run_edge(lambda: evaluate(args))


def evaluate(args: argparse.Namespace) -> int:
    err = Console(stderr=True)
    if args.xquad:
        every = read_xquad(args.xquad)
        corpus = [args.xquad / "corpus_contexts"]
        if args.distractors:
            viwiki = args.viwiki or args.xquad.parent / "viwiki"
            corpus.append(write_distractors(viwiki, args.distractors, args.results / ".distractors"))
        limit = XQUAD_SAMPLE if args.limit is None else args.limit
    else:
        every, corpus, limit = read_questions(args.questions), list(args.corpus), args.limit
    questions = every
    if limit is not None and limit < len(every):
        questions = sorted(random.Random(args.seed).sample(every, limit), key=lambda q: q.id)
    overrides: dict[str, Any] = {"llm": args.model} if args.model else {}
    if args.style:
        overrides["answer_style"] = args.style
    corpus_key = "-".join(p.resolve().name for p in corpus)
    settings = load_settings(**overrides, index_dir=args.results / ".index" / corpus_key)
    with ConsoleProgress(err) as progress:
        indexing.update(corpus, embed.from_settings(settings), settings, prune=True, progress=progress)
    err.print(f"loading {settings.llm_url or settings.llm}…")
    pipeline = Pipeline.load(settings)
    source = f"xquad{args.distractors or ''}" if args.xquad else args.questions.stem
    name = args.name or f"{source}-{pipeline.generator.name}-{settings.answer_style}"
    out = args.results / name
    out.mkdir(parents=True, exist_ok=True)
    extractive = not args.no_baselines and settings.answer_style != "extractive"  # same pipeline, no model call
    rows, baseline_rows = [], []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with (out / "answers.jsonl").open("w", encoding="utf-8") as f, Progress(*columns, console=err) as bar:
        task = bar.add_task("answering", total=len(questions))
        for q in questions:
            history = [t.turn() for t in q.history]
            row = record(q, pipeline.ask(q.question, history))
            rows.append(row)
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            if extractive:
                baseline_rows.append(record(q, pipeline.ask(q.question, history, style="extractive")))
            bar.advance(task)
        base: dict[str, Any] = {}
        if not args.no_baselines:
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
            f.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in baseline_rows)
    meta = {
        "questions file": str(args.xquad / "questions.jsonl" if args.xquad else args.questions),
        "corpus": ", ".join(map(str, corpus)),
        "distractors": args.distractors,
        "model": pipeline.generator.name,
        "style": settings.answer_style,
        "limit": limit,
        "seed": args.seed,
        "threads": settings.n_threads,
        "evidence_tokens": settings.evidence_tokens,
    }
    result = {"meta": meta, "summary": summary, "by": by, "baselines": base}
    (out / "summary.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    text = report(name, meta, summary, by, base)
    (out / "report.md").write_text(text + "\n", encoding="utf-8")
    draw(out, rows, by, base)
    print(text)
    print(f"\nresults in {out}")
    return 0


def draw(out: Path, rows: Sequence[dict[str, Any]], by: dict[str, Any], base: dict[str, Any]) -> None:
    """The run's PNG charts beside its report."""
    extractive_by_type = base["extractive"]["by"]["type"] if base.get("extractive") else None
    charts.accuracy_by_type(out / "accuracy_by_type.png", by["type"], extractive_by_type)
    charts.latency(out / "latency.png", [r["timings"] for r in rows])
    if base.get("retrieval"):
        charts.retrieval(out / "retrieval.png", base["retrieval"])


if __name__ == "__main__":
    sys.exit(main())

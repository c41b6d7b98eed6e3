"""Generation: time to first token and tokens/s through the pipeline, against llama-cpp-python called directly.

For each language model, the real pipeline (retrieval over a seeds index, evidence, prompt,
the model through `LlamaGenerator`, the check) answers answerable seeds questions; a recorder
keeps the exact messages it sent. The same messages then go straight to
`Llama.create_chat_completion` with the same decoding (greedy, the same token limit). Each
question is measured both ways, side by side, in two cache states:
- cached: the system prompt is in llama.cpp's KV cache (what the app does: `warm_up`),
- cold: the cache is emptied first (`Llama.reset`), so the whole prompt is evaluated.
Time to first token is from the call to the first piece of text; tokens/s counts llama.cpp's
generated tokens over the time from the first piece to the last. The overhead is the pipeline's
median over the direct median, minus one. Questions the pipeline answers without the model
(abstained, extractive by rule) are skipped. One question is asked first and not counted.

    .venv/bin/python -m bench.generation --questions 8
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.app import questions as questions_of_seeds
from bench.results import RESULTS
from rag.config import CHECKOUT, Settings, load_settings
from rag.generate import GREEDY, LlamaGenerator, Message, Stream

MODELS = ("qwen2.5-coder-0.5b-instruct-q4_k_m", "qwen2.5-coder-1.5b-instruct-q4_k_m")


class Recorder:
    """A `Generator` that passes everything to `inner` and keeps the last messages it was sent."""

    def __init__(self, inner: LlamaGenerator) -> None:
        self.inner = inner
        self.messages: list[Message] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def stream(self, messages: Sequence[Message], max_tokens: int) -> Stream:
        self.messages = list(messages)
        return self.inner.stream(messages, max_tokens)


def timed(pieces: Iterator[Any]) -> tuple[float, float, str]:
    """Drain a stream: (ms to the first text piece, ms to the last, the text)."""
    started = time.perf_counter()
    first = last = 0.0
    text = []
    for piece in pieces:
        if isinstance(piece, str) and piece:
            last = (time.perf_counter() - started) * 1000
            first = first or last
            text.append(piece)
    return first, last, "".join(text)


def direct(generator: LlamaGenerator, messages: Sequence[Message], max_tokens: int) -> Iterator[str]:
    """llama-cpp-python itself, with the pipeline's decoding settings."""
    turns = [{"role": m.role, "content": m.content} for m in messages]
    chunks = generator.llm.create_chat_completion(messages=turns, max_tokens=max_tokens, stream=True, **GREEDY)
    for chunk in chunks:
        piece = chunk["choices"][0]["delta"].get("content")
        if piece:
            yield piece


def median(values: list[float]) -> float:
    return round(statistics.median(values), 1) if values else 0.0


def p95(values: list[float]) -> float:
    return round(sorted(values)[round(0.95 * (len(values) - 1))], 1) if values else 0.0


@dataclass(frozen=True)
class Way:
    """One way of asking (the pipeline, or llama-cpp-python directly) in one cache state."""

    ttft_ms_p50: float
    ttft_ms_p95: float
    tok_s_p50: float


@dataclass(frozen=True)
class GenerationRow:
    model: str
    questions: int
    threads: int
    prompt_tokens_p50: float  # what the model evaluated before its first token (system prompt cached)
    prompt_eval_tok_s_p50: float
    pipeline_cached: Way
    direct_cached: Way
    pipeline_cold: Way
    direct_cold: Way
    overhead_cached_ttft_pct: float | None  # the pipeline's median over the direct median, minus one
    overhead_cached_tok_s_pct: float | None
    overhead_cold_ttft_pct: float | None
    overhead_cold_tok_s_pct: float | None


def overhead(pipeline: float, direct: float) -> float | None:
    """How much more the pipeline takes than llama-cpp-python directly, in per cent."""
    return round(100 * (pipeline / direct - 1), 1) if direct else None


def measure_model(settings: Settings, model: str, questions: list[str], index_dir: Path) -> GenerationRow:
    from rag import embed
    from rag.pipeline import Pipeline
    from rag.retrieve import Retriever
    from rag.storage import open_store

    settings = settings.model_copy(update={"llm": model, "index_dir": index_dir})
    generator = LlamaGenerator.from_settings(settings)
    recorder = Recorder(generator)
    retriever = Retriever(open_store(settings).load(), embed.from_settings(settings), settings.dense_weight)
    pipeline = Pipeline.from_settings(settings, retriever, recorder)  # type: ignore[arg-type]
    pipeline.warm_up()
    limit = settings.answer_tokens
    runs: dict[str, dict[str, list[float]]] = {
        f"{way} {cache}": {"ttft_ms": [], "tok_s": []} for way in ("pipeline", "direct") for cache in ("cached", "cold")
    }
    asked = 0
    prompt_tokens, prompt_rates = [], []  # what the model evaluated before its first token (system prompt cached)
    for i, question in enumerate(questions):
        recorder.messages = []
        answer = pipeline.ask(question)  # the first is the warm-up; the others find which questions reach the model
        if not recorder.messages or i == 0:
            continue
        messages = recorder.messages
        asked += 1
        prompt_tokens.append(answer.timings.prompt_tokens)
        prompt_rates.append(answer.timings.prompt_tokens / max(answer.timings.prompt_ms, 1e-9) * 1000)
        for cache in ("cached", "cold"):
            order = ("pipeline", "direct") if asked % 2 else ("direct", "pipeline")  # neither always goes first
            for way in order:
                if cache == "cached":
                    generator.warm_up(pipeline.system)
                else:
                    generator.llm.reset()
                before = generator._counters()
                stream = pipeline.stream(question) if way == "pipeline" else direct(generator, messages, limit)
                first, last, _ = timed(stream)
                tokens = generator._counters()[3] - before[3]
                runs[f"{way} {cache}"]["ttft_ms"].append(first)
                if tokens > 1 and last > first:
                    runs[f"{way} {cache}"]["tok_s"].append((tokens - 1) / ((last - first) / 1000))
    ways = {
        name: Way(median(values["ttft_ms"]), p95(values["ttft_ms"]), median(values["tok_s"]))
        for name, values in runs.items()
    }
    del pipeline, retriever, recorder, generator
    return GenerationRow(
        model=model,
        questions=asked,
        threads=settings.n_threads,
        prompt_tokens_p50=median(prompt_tokens),
        prompt_eval_tok_s_p50=median(prompt_rates),
        pipeline_cached=ways["pipeline cached"],
        direct_cached=ways["direct cached"],
        pipeline_cold=ways["pipeline cold"],
        direct_cold=ways["direct cold"],
        overhead_cached_ttft_pct=overhead(ways["pipeline cached"].ttft_ms_p50, ways["direct cached"].ttft_ms_p50),
        # tokens/s: the direct rate over the pipeline's (a slower pipeline has the lower rate)
        overhead_cached_tok_s_pct=overhead(ways["direct cached"].tok_s_p50, ways["pipeline cached"].tok_s_p50),
        overhead_cold_ttft_pct=overhead(ways["pipeline cold"].ttft_ms_p50, ways["direct cold"].ttft_ms_p50),
        overhead_cold_tok_s_pct=overhead(ways["direct cold"].tok_s_p50, ways["pipeline cold"].tok_s_p50),
    )


def seeds_index(settings: Settings, folder: Path) -> Path:
    """The seeds indexed into `folder` (the user's own index is left alone)."""
    from rag import embed, indexing

    settings = settings.model_copy(update={"index_dir": folder})
    indexing.update([CHECKOUT / "seeds"], embed.from_settings(settings), settings)
    return folder


def run(questions: int, models: Sequence[str] = MODELS, threads: int = 2) -> list[GenerationRow]:
    settings = load_settings(n_threads=threads)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        index_dir = seeds_index(settings, Path(tmp) / "index")
        for model in models:
            row = measure_model(settings, model, questions_of_seeds(questions + 1), index_dir)
            print(row, flush=True)
            rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    from bench.results import save
    from rag.edge import run_edge

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=int, default=8, help="seeds questions measured per model")
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=RESULTS / "generation.json")
    args = parser.parse_args(argv)

    return run_edge(lambda: save(run(args.questions, args.models, args.threads), args.out))


if __name__ == "__main__":
    sys.exit(main())

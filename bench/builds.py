"""llama.cpp builds side by side: prompt evaluation and generation speed of the build for this CPU against the
portable build (`-DGGML_NATIVE=OFF`), the same GGUF and the same prompts, in the same run.

Each build's wheel (`scripts/llama_build.py` keeps them per CPU; the portable one comes from pip's cache or is
built once) is unpacked into a folder of its own and run in a fresh process with that folder first on `sys.path`.
The prompts are the pipeline's own for seeds questions (system and user message, as the app sends them), each
evaluated whole (the cache emptied first), greedy, at most 32 generated tokens. The builds take turns, round after
round, so that neither always runs first. Prompt tokens/s and generated tokens/s are llama.cpp's own counters; the
time to first token is the wall time from the call to the first piece. The smoke run measures the installed build
alone, on one prompt.

    .venv/bin/python -m bench.builds --questions 8 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.results import RESULTS
from rag.config import CHECKOUT, Settings, load_settings
from rag.generate import GREEDY, LlamaGenerator, Message, Stream

MODELS = ("qwen2.5-coder-0.5b-instruct-q4_k_m", "qwen2.5-coder-1.5b-instruct-q4_k_m")
MAX_TOKENS = 32


@dataclass(frozen=True)
class BuildRow:
    model: str
    build: str  # "native", "portable", or "installed" (the smoke run)
    kernels: str  # what llama.cpp reports using
    prompts: int  # prompts measured (over all rounds)
    prompt_tokens_p50: float
    prompt_tok_s_p50: float
    generate_tok_s_p50: float
    ttft_ms_p50: float  # the whole prompt evaluated (no cache)
    prompt_speed_up: float | None  # this build's prompt tokens/s over the portable build's


class Prompts:
    """A `Generator` that keeps the messages the pipeline would send and writes nothing (tokens are counted by the
    real model, so the evidence fits as in the app)."""

    def __init__(self, inner: LlamaGenerator) -> None:
        self.inner, self.name = inner, inner.name
        self.sent: list[list[Message]] = []

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def warm_up(self, system: str) -> None:
        pass

    def stream(self, messages: Sequence[Message], max_tokens: int) -> Stream:
        self.sent.append(list(messages))
        return
        yield  # a generator that writes nothing


def seeds_prompts(settings: Settings, model: str, count: int) -> list[list[dict[str, str]]]:
    """The messages the pipeline sends for the first `count` answerable seeds questions that reach the model."""
    from bench.app import questions
    from bench.generation import seeds_index
    from rag import embed
    from rag.pipeline import Pipeline
    from rag.retrieve import Retriever
    from rag.storage import open_store

    settings = settings.model_copy(update={"llm": model})
    recorder = Prompts(LlamaGenerator.from_settings(settings))
    with tempfile.TemporaryDirectory() as tmp:
        index_dir = seeds_index(settings, Path(tmp) / "index")
        settings = settings.model_copy(update={"index_dir": index_dir})
        retriever = Retriever(open_store(settings).load(), embed.from_settings(settings), settings.dense_weight)
        pipeline = Pipeline.from_settings(settings, retriever, recorder)  # type: ignore[arg-type]
        for question in questions(4 * count):
            pipeline.ask(question)
            if len(recorder.sent) >= count:
                break
    return [[{"role": m.role, "content": m.content} for m in sent] for sent in recorder.sent[:count]]


def unpacked(wheel: Path, into: Path) -> Path:
    with zipfile.ZipFile(wheel) as z:
        z.extractall(into)
    return into


def measured(site: Path | None, model_path: Path, prompts: list[list[dict[str, str]]], threads: int) -> dict[str, Any]:
    """One fresh process of the build at `site` (None: the installed one) over every prompt."""
    spec = {"model": str(model_path), "prompts": prompts, "threads": threads, "max_tokens": MAX_TOKENS}
    env = dict(os.environ)
    if site is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(site), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    done = subprocess.run(
        [sys.executable, "-m", "bench.builds", "--worker"],
        input=json.dumps(spec),
        capture_output=True,
        text=True,
        cwd=CHECKOUT,
        env=env,
        check=False,
        timeout=3600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the {site or 'installed'} build failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.splitlines()[-1])  # type: ignore[no-any-return]


def worker() -> int:
    """In the build's own process: load the model, evaluate each prompt whole, print llama.cpp's counters."""
    import llama_cpp

    spec = json.loads(sys.stdin.read())
    llm = llama_cpp.Llama(
        model_path=spec["model"],
        n_ctx=4096,
        n_threads=spec["threads"],
        n_threads_batch=spec["threads"],
        n_batch=512,
        verbose=False,
    )
    runs = []
    for messages in spec["prompts"]:
        llm.reset()
        llama_cpp.llama_perf_context_reset(llm._ctx.ctx)
        started, first = time.perf_counter(), 0.0
        chunks = llm.create_chat_completion(messages=messages, max_tokens=spec["max_tokens"], stream=True, **GREEDY)
        for chunk in chunks:
            if chunk["choices"][0]["delta"].get("content") and not first:  # type: ignore[index, union-attr]
                first = (time.perf_counter() - started) * 1000
        data = llama_cpp.llama_perf_context(llm._ctx.ctx)
        runs.append(
            {
                "prompt_tokens": data.n_p_eval,
                "prompt_tok_s": data.n_p_eval / max(data.t_p_eval_ms, 1e-9) * 1000,
                "generate_tok_s": data.n_eval / max(data.t_eval_ms, 1e-9) * 1000 if data.n_eval > 1 else 0.0,
                "ttft_ms": first,
            }
        )
    info = llama_cpp.llama_print_system_info().decode("utf-8", errors="replace")
    print(json.dumps({"runs": runs, "kernels": info.strip()}))
    return 0


def run(questions: int = 8, rounds: int = 3, models: Sequence[str] = MODELS, smoke: bool = False) -> list[BuildRow]:
    from rag import installed
    from rag.manifest import load_manifest

    settings = load_settings(n_threads=2)
    manifest = load_manifest(settings.manifest_path)
    rows: list[BuildRow] = []
    with tempfile.TemporaryDirectory(prefix="rag-builds-") as tmp:
        sites: dict[str, Path | None] = {"installed": None}
        if not smoke:
            sys.path.insert(0, str(CHECKOUT / "scripts"))
            import llama_build

            native = llama_build.build_key(sorted(llama_build.cpu_flags()), portable=False)
            wheels = {"native": llama_build.find_or_build(native), "portable": llama_build.find_or_build("portable")}
            sites = {name: unpacked(wheel, Path(tmp) / name) for name, wheel in wheels.items()}
        for model in models[:1] if smoke else models:
            path = installed.llm_path(settings.model_copy(update={"llm": model}), manifest)
            prompts = seeds_prompts(settings, model, 1 if smoke else questions)
            runs: dict[str, list[dict[str, Any]]] = {name: [] for name in sites}
            kernels: dict[str, str] = {}
            for r in range(1 if smoke else rounds):
                for name in list(sites)[:: 1 if r % 2 == 0 else -1]:  # the builds take turns going first
                    got = measured(sites[name], path, prompts, settings.n_threads)
                    runs[name] += got["runs"]
                    kernels[name] = got["kernels"]
            base = runs["portable"] if "portable" in runs else runs["installed"]
            portable = statistics.median(r["prompt_tok_s"] for r in base)
            for name, done in runs.items():
                prompt = statistics.median(r["prompt_tok_s"] for r in done)
                rows.append(
                    BuildRow(
                        model=model,
                        build=name,
                        kernels=kernels[name],
                        prompts=len(done),
                        prompt_tokens_p50=statistics.median(r["prompt_tokens"] for r in done),
                        prompt_tok_s_p50=round(prompt, 1),
                        generate_tok_s_p50=round(statistics.median(r["generate_tok_s"] for r in done), 1),
                        ttft_ms_p50=round(statistics.median(r["ttft_ms"] for r in done), 1),
                        prompt_speed_up=round(prompt / portable, 2) if "portable" in runs else None,
                    )
                )
                print(rows[-1], flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    if argv is None and sys.argv[1:] == ["--worker"]:
        return worker()
    from bench.results import save
    from rag.edge import run_edge

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=int, default=8, help="seeds prompts per model")
    parser.add_argument("--rounds", type=int, default=3, help="turns of every build over the prompts")
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--out", type=Path, default=RESULTS / "builds.json")
    args = parser.parse_args(argv)
    return run_edge(lambda: save(run(args.questions, args.rounds, args.models), args.out))


if __name__ == "__main__":
    sys.exit(main())

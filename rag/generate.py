"""Language models behind one seam: `Generator.stream(messages)` yields the reply's text as it is produced,
and returns its `Usage` (where the model's time went) when the stream ends.

Two implementations, and `from_settings` to pick one:
- `LlamaGenerator`: a GGUF run in this process by llama-cpp-python, with the chat template
  stored in the GGUF. One lock around the model (a `Llama` is not thread-safe: two browser
  tabs asking at once take turns). llama-cpp-python keeps the tokens it evaluated last and
  re-uses the longest common prefix, so the fixed system prompt, evaluated once by `warm_up`,
  is not evaluated again for each question. Its `Usage` is llama.cpp's own counters, which is
  how the pipeline tells its own time from the model's.
- `HttpGenerator`: any OpenAI-compatible `/v1/chat/completions` server (llama.cpp's server,
  `python -m llama_cpp.server`, vLLM, ...), streamed over server-sent events.

A stream is a Python generator: a reader who stops early calls `close()` (or lets `yield from`
do it), which ends llama.cpp's generation at once and frees the model.

Decoding is greedy (temperature 0): the same question over the same passages gives the same
answer, which is what an evaluation and a user comparing runs both need.
This module does not build prompts or check what the model says.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Generator as PythonGenerator
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import httpx
import numpy as np

from rag import cpu, installed
from rag.config import Settings
from rag.errors import GeneratorError
from rag.manifest import load_manifest

# Greedy decoding, as llama-cpp-python's `create_chat_completion` takes it.
GREEDY: dict[str, Any] = {"temperature": 0.0, "top_k": 1, "repeat_penalty": 1.0}


@dataclass(frozen=True)
class Message:
    role: Literal["system", "user", "assistant"]
    content: str


@dataclass(frozen=True)
class Usage:
    """Where the model's time went in one `stream` (llama.cpp's counters; HTTP: the wait for the first token)."""

    prompt_tokens: int = 0
    prompt_ms: float = 0.0  # prompt evaluation
    generated_tokens: int = 0
    generate_ms: float = 0.0  # token generation (sampling included)
    logprobs: tuple[float, ...] = ()  # each generated token's log-probability (greedy: the likeliest); () from a server


# What `Generator.stream` returns: the reply's pieces as they come, then its `Usage` as the generator's return value.
Stream = PythonGenerator[str, None, Usage]


class Generator(Protocol):
    name: str

    def stream(self, messages: Sequence[Message], max_tokens: int) -> Stream:
        """The reply to `messages`, piece by piece; greedy, at most `max_tokens` tokens; returns its `Usage`."""
        ...

    def count_tokens(self, text: str) -> int:
        """Tokens `text` costs in a prompt (an estimate when the tokenizer is remote)."""
        ...

    def warm_up(self, system: str) -> None:
        """Get ready for questions that start with the system prompt `system` (a server keeps its own cache)."""
        ...


def from_settings(settings: Settings) -> Generator:
    """The configured language model: the server at `RAG_LLM_URL`, else the local GGUF, loaded."""
    if settings.llm_url is not None:
        return HttpGenerator(settings.llm_url, settings.llm_api_key, settings.llm_model)
    return LlamaGenerator.from_settings(settings)


class LlamaGenerator:
    """A GGUF model loaded in process. `load` is the expensive part; the constructor only stores."""

    def __init__(self, llm: Any, name: str) -> None:
        self.llm = llm
        self.name = name
        self.lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, path: Path | None = None, name: str | None = None) -> LlamaGenerator:
        """The configured GGUF (`RAG_LLM` or `RAG_LLM_PATH`), or the one at `path` (another installed model),
        with the settings' context window and threads."""
        if path is None:
            path = installed.llm_path(settings, load_manifest(settings.manifest_path))
            name = name or (settings.llm if settings.llm_path is None else path.stem)
        return cls.load(path, settings.n_ctx, settings.n_threads, name=name)

    @classmethod
    def load(cls, path: Path, n_ctx: int = 4096, n_threads: int = 2, name: str | None = None) -> LlamaGenerator:
        cpu.check_build(cpu.recorded_build(), cpu.cpu_flags())  # before llama.cpp's code runs on this CPU
        from llama_cpp import Llama

        try:
            llm = Llama(
                model_path=str(path),
                n_ctx=n_ctx,
                n_threads=n_threads,
                n_threads_batch=n_threads,
                n_batch=512,
                verbose=False,
            )
        except ValueError as exc:  # llama-cpp-python raises ValueError for a file it cannot load
            raise GeneratorError(
                f"could not load the language model {path}: {exc}. Run `rag models verify` to check it, "
                "and `rag models install` to repair an installed model."
            ) from None
        return cls(llm, name or path.stem)

    def count_tokens(self, text: str) -> int:
        return len(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def warm_up(self, system: str) -> None:
        """Evaluate the system prompt once, so every question re-uses it from the KV cache."""
        messages = [Message("system", system), Message("user", ".")]
        for _ in self.stream(messages, max_tokens=1):
            pass

    def _counters(self) -> tuple[float, float, int, int]:
        import llama_cpp

        data = llama_cpp.llama_perf_context(self.llm._ctx.ctx)
        return data.t_p_eval_ms, data.t_eval_ms, data.n_p_eval, data.n_eval

    def stream(self, messages: Sequence[Message], max_tokens: int) -> Stream:
        from llama_cpp import LogitsProcessorList

        logprobs: list[float] = []

        def record(_: Any, logits: Any) -> Any:
            """Keep the chosen token's log-probability (greedy: the largest logit's); the logits are unchanged."""
            top = float(logits.max())
            logprobs.append(top - (top + math.log(float(np.exp(logits - top).sum()))))
            return logits

        with self.lock:
            before = self._counters()
            chunks = self.llm.create_chat_completion(
                messages=[{"role": m.role, "content": m.content} for m in messages],
                max_tokens=max_tokens,
                stream=True,
                logits_processor=LogitsProcessorList([record]),
                **GREEDY,
            )
            try:
                for chunk in chunks:
                    piece = chunk["choices"][0]["delta"].get("content")
                    if piece:
                        yield piece
            except (ValueError, RuntimeError) as exc:  # llama.cpp's own failures (a context overflow, a decode error)
                raise GeneratorError(f"the language model could not answer ({exc}); try a shorter question.") from None
            finally:
                chunks.close()  # an abandoned stream ends llama.cpp's generation here, before the lock is let go
                after = self._counters()
            return Usage(
                prompt_tokens=after[2] - before[2],
                prompt_ms=after[0] - before[0],
                generated_tokens=after[3] - before[3],
                generate_ms=after[1] - before[1],
                logprobs=tuple(logprobs),
            )


class HttpGenerator:
    """An OpenAI-compatible chat completions server at `url` (with or without the trailing `/v1`)."""

    def __init__(self, url: str, api_key: str | None = None, model: str = "default", timeout_s: float = 120) -> None:
        base = url.rstrip("/")
        self.endpoint = (base if base.endswith("/v1") else base + "/v1") + "/chat/completions"
        self.url = url
        self.name = f"{model} at {url}"
        self.model = model
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.timeout = httpx.Timeout(timeout_s, connect=10.0)

    def count_tokens(self, text: str) -> int:
        return len(text) // 3 + 1  # no tokenizer here; Vietnamese runs ~3 characters a token in Qwen2.5's

    def warm_up(self, system: str) -> None:
        """Nothing to do: the server keeps its own cache."""

    def stream(self, messages: Sequence[Message], max_tokens: int) -> Stream:
        payload = {
            "model": self.model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "max_tokens": max_tokens,
            "temperature": 0.0,
            "stream": True,
        }
        started = time.perf_counter()
        first: float | None = None
        count = 0
        try:
            with httpx.stream("POST", self.endpoint, json=payload, headers=self.headers, timeout=self.timeout) as r:
                if r.status_code != 200:
                    r.read()
                    raise GeneratorError(
                        f"the language model server at {self.url} answered {r.status_code}: {r.text[:200]}. "
                        "Check RAG_LLM_URL and RAG_LLM_API_KEY."
                    )
                for line in r.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    piece = _delta(data)
                    if piece:
                        if first is None:
                            first = time.perf_counter()
                        count += 1
                        yield piece
        except httpx.HTTPError as exc:
            raise GeneratorError(
                f"could not reach the language model server at {self.url} ({exc}). "
                "Start it, or unset RAG_LLM_URL to use the local model."
            ) from None
        end = time.perf_counter()
        first = first or end
        return Usage(0, (first - started) * 1000, count, (end - first) * 1000)


def _delta(data: str) -> str | None:
    """The text of one streamed chunk, or None for chunks that carry none (role, finish reason).

    >>> _delta('{"choices": [{"delta": {"content": "Xin"}}]}')
    'Xin'
    >>> _delta('{"choices": [{"delta": {}, "finish_reason": "stop"}]}') is None
    True
    >>> _delta('{"error": {"message": "context too long"}}')
    Traceback (most recent call last):
    ...
    rag.errors.GeneratorError: the language model server reported an error: context too long
    """
    try:
        chunk = json.loads(data)
        error = chunk.get("error")
        content = None if error else ((chunk.get("choices") or [{}])[0].get("delta") or {}).get("content")
    except (ValueError, AttributeError, TypeError, IndexError):
        raise GeneratorError(
            f"the language model server sent something that is not a chat chunk: {data[:120]!r}"
        ) from None
    if error:
        message = error.get("message", error) if isinstance(error, dict) else error
        raise GeneratorError(f"the language model server reported an error: {message}")
    return content if isinstance(content, str) else None

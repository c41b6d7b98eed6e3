"""The OpenAI-compatible endpoint (`/v1`) against a live server on 127.0.0.1, called with the official `openai`
client and with curl: the collection listed, answers with their sources (whole and streamed), the history read as
`/ask` reads it, errors in OpenAI's shape, the login, a busy model, eight clients at once. Fakes: the bag-of-words
embedder and the echoing model (`conftest.Echo`) over two documents alike but for their figures."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import openai
import pytest
from conftest import Echo, free_port, two_cities

from rag.generate import Message, Stream
from rag.openai_api import ChatAPI, answer_of, reply_text
from rag.pipeline import Pipeline
from rag.server import serve
from rag.types import Answer, Citation, Reason, Timings
from rag.ui import build_app

HUE_BRIDGES = "Thành phố Huế có bao nhiêu cây cầu?"
VINH_BRIDGES = "Thành phố Vinh có bao nhiêu cây cầu?"


@dataclass
class Served:
    url: str  # http://127.0.0.1:port/
    pipeline: Pipeline
    app: Any

    def client(self, key: str = "none", retries: int = 0) -> openai.OpenAI:
        return openai.OpenAI(base_url=f"{self.url}v1", api_key=key, max_retries=retries, timeout=60)


class Slow(Echo):
    """The echoing model taking a moment over its reply, counting the replies it writes at once (llama.cpp can write
    only one)."""

    def __init__(self) -> None:
        super().__init__()
        self.now = self.most = 0
        self.counting = threading.Lock()

    def stream(self, messages: Sequence[Message], max_tokens: int) -> Stream:
        with self.counting:
            self.now += 1
            self.most = max(self.most, self.now)
        try:
            time.sleep(0.05)
            return (yield from super().stream(messages, max_tokens))
        finally:
            with self.counting:
                self.now -= 1


def started(home: Any, **api: Any) -> Served:
    pipeline, library = two_cities(home, Slow())
    app = build_app(pipeline, library)
    auth = api.pop("auth", None)
    url = serve(app, port=free_port(), auth=auth, block=False, api=ChatAPI(pipeline, auth=auth, **api))
    return Served(url, pipeline, app)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The app as `rag serve` serves it by default (no login), but waiting only a moment for a busy model."""
    s = started(tmp_path_factory.mktemp("openai"), wait_s=0.5)
    try:
        yield s
    finally:
        s.app.close()


@pytest.fixture(scope="module")
def locked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The app with a login (RAG_AUTH) and an API key (RAG_API_KEY)."""
    s = started(tmp_path_factory.mktemp("openai-login"), auth="ann:mat-khau-7", key="k-123")
    try:
        yield s
    finally:
        s.app.close()


def ask(served: Served, messages: list[dict[str, Any]], **options: Any) -> Any:
    return served.client().chat.completions.create(model="rag-vi", messages=messages, **options)  # type: ignore[arg-type]


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


# --- what a client sees -----------------------------------------------------------------------------------------


def test_the_model_listed_is_the_document_collection(served: Served) -> None:
    (model,) = served.client().models.list().data
    assert model.id == "rag-vi" and model.object == "model"
    assert model.model_extra == {"documents": 2, "chunks": 2}


def test_a_reply_is_the_checked_answer_then_its_sources(served: Served) -> None:
    reply = ask(served, [user(HUE_BRIDGES)])
    content = reply.choices[0].message.content
    rag = reply.model_extra["rag"]
    assert reply.choices[0].finish_reason == "stop" and reply.model == "rag-vi"
    assert rag["mode"] in ("generated", "extractive") and "11" in rag["answer"]
    assert content.startswith(rag["answer"])  # the answer with its [n] markers, as /ask gives it
    answer, label, sources = content.split("\n\n")
    assert "[1]" in answer and label in ("*(Mô hình viết)*", "*(Trích nguyên văn)*")
    (cited,) = rag["citations"]
    assert sources == f"Nguồn:\n- [1] {cited['title']} — hue.txt: “{cited['text']}”"
    assert "12" not in content and "vinh.txt" not in content


def test_the_stream_carries_the_same_reply_and_ends_with_the_structured_answer(served: Served) -> None:
    whole = ask(served, [user(HUE_BRIDGES)])
    chunks = list(ask(served, [user(HUE_BRIDGES)], stream=True, stream_options={"include_usage": True}))
    assert chunks[0].choices[0].delta.role == "assistant"
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed == whole.choices[0].message.content
    end = next(c for c in chunks if c.choices and c.choices[0].finish_reason == "stop")
    rag = end.model_extra["rag"]
    assert rag["answer"] == whole.model_extra["rag"]["answer"] and rag["citations"]
    assert not chunks[-1].choices and chunks[-1].usage is not None  # the usage, as asked, comes last
    assert len({c.id for c in chunks}) == 1


def test_the_history_is_read_as_ask_reads_it(served: Served) -> None:
    from gradio_client import Client

    earlier = ask(served, [user(VINH_BRIDGES)])
    follow_up = "Còn chợ đêm mở cửa lúc mấy giờ?"
    messages = [
        {"role": "system", "content": "Bạn là trợ lý."},  # not used: the app's own prompt decides
        user(VINH_BRIDGES),
        {"role": "assistant", "content": earlier.choices[0].message.content},  # with the mode and sources shown
        user(follow_up),
    ]
    through_openai = ask(served, messages).model_extra["rag"]
    history = [
        {"role": "user", "content": VINH_BRIDGES},
        {"role": "assistant", "content": earlier.model_extra["rag"]["answer"]},
    ]
    through_ask = Client(served.url, verbose=False).predict(follow_up, history, api_name="/ask")
    hue = [user(HUE_BRIDGES), {"role": "assistant", "content": "Có 11 cây cầu."}, user(follow_up)]
    same = ("answer", "mode", "citations", "confidence", "reason")
    assert {k: through_openai[k] for k in same} == {k: through_ask[k] for k in same}
    assert {c["doc"] for c in through_openai["citations"]} == {"vinh.txt"}  # the follow-up is about Vinh
    assert {c["doc"] for c in ask(served, hue).model_extra["rag"]["citations"]} == {"hue.txt"}  # the same words


def test_eight_clients_at_once_each_get_their_own_answer_and_the_model_writes_one_at_a_time(locked: Served) -> None:
    """Six OpenAI clients and two `/ask` callers at once, on the server that waits as long as `rag serve` (120 s)."""
    from gradio_client import Client

    questions = [HUE_BRIDGES, VINH_BRIDGES] * 4

    def one(i: int, question: str) -> str:
        if i >= 6:
            asked = Client(locked.url, auth=("ann", "mat-khau-7"), verbose=False).predict(question, [], api_name="/ask")
            return str(asked["answer"])  # the answer only: the timings beside it may hold any digits
        reply = locked.client("k-123").chat.completions.create(model="rag-vi", messages=[user(question)])  # type: ignore[list-item]
        return reply.choices[0].message.content or ""

    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(one, range(8), questions))
    for question, content in zip(questions, replies, strict=True):
        own, other = ("11", "12") if "Huế" in question else ("12", "11")
        assert own in content and other not in content, (question, content)
    assert locked.pipeline.generator.most == 1


# --- errors, in OpenAI's shape ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("messages", "options", "status", "param"),
    [
        ([user("   ")], {}, 400, "messages"),
        ([user(HUE_BRIDGES), {"role": "assistant", "content": "Có"}], {}, 400, "messages"),
        ([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}], {}, 400, "messages"),
        ([user(HUE_BRIDGES)], {"n": 2}, 400, "n"),
        ([user(HUE_BRIDGES)], {"model": "gpt-4o"}, 404, "model"),
        ([], {}, 400, "messages"),
    ],
    ids=["empty question", "last is the assistant's", "an image", "n=2", "another model", "no messages"],
)
def test_a_bad_request_is_refused_in_openai_shape(
    served: Served, messages: list[Any], options: dict[str, Any], status: int, param: str
) -> None:
    model = options.pop("model", "rag-vi")
    with pytest.raises(openai.APIStatusError) as refused:
        served.client().chat.completions.create(model=model, messages=messages, **options)
    assert refused.value.status_code == status
    error = refused.value.body
    assert isinstance(error, dict) and error["param"] == param and error["message"]
    assert "Traceback" not in error["message"]


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "v1/chat/completions", b"{not json", 400),
        ("POST", "v1/chat/completions", b'{"model": "rag-vi", "messages": "hi"}', 400),
        ("POST", "v1/chat/completions", b'{"model": "rag-vi", "messages": [{"role": "user", "content": 5}]}', 400),
        ("POST", "v1/chat/completions", b"[" * (9 << 20), 413),
        ("GET", "v1/chat/completions", b"", 405),
        ("GET", "v1/engines", b"", 404),
    ],
    ids=["not JSON", "messages a string", "content a number", "9 MB", "GET", "no such route"],
)
def test_a_malformed_call_gets_an_openai_error_never_a_traceback(
    served: Served, method: str, path: str, body: bytes, status: int
) -> None:
    got = httpx.request(method, served.url + path, content=body, headers={"content-type": "application/json"})
    assert got.status_code == status, got.text
    error = got.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["message"]
    assert "Traceback" not in got.text


def test_a_page_of_another_origin_cannot_ask(served: Served) -> None:
    got = httpx.post(
        f"{served.url}v1/chat/completions",
        json={"model": "rag-vi", "messages": [user(HUE_BRIDGES)]},
        headers={"origin": "https://evil.example"},
    )
    assert got.status_code == 403 and got.json()["error"]["message"]


def test_a_busy_model_is_a_503_after_the_wait_then_answers_again(served: Served) -> None:
    with served.pipeline.busy, pytest.raises(openai.APIStatusError) as busy:  # held as the chat holds it
        ask(served, [user(HUE_BRIDGES)])
    assert busy.value.status_code == 503
    assert isinstance(busy.value.body, dict) and busy.value.body["code"] == "model_busy"
    assert busy.value.response.headers["retry-after"]
    assert "11" in (ask(served, [user(HUE_BRIDGES)]).choices[0].message.content or "")


def test_the_chat_and_the_endpoint_take_turns_on_the_model(served: Served) -> None:
    """A request that arrives while the chat answers waits for it, then is answered (not refused, not mixed)."""
    released = threading.Timer(0.2, served.pipeline.busy.release)
    served.pipeline.busy.acquire()
    released.start()
    assert "11" in (ask(served, [user(HUE_BRIDGES)]).choices[0].message.content or "")
    released.join()
    assert not served.pipeline.busy.locked()


# --- the login ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["none", "k-12", "ann:sai"], ids=["no key", "wrong key", "wrong password"])
def test_without_the_key_or_login_nothing_is_answered(locked: Served, key: str) -> None:
    client = locked.client(key)
    with pytest.raises(openai.AuthenticationError) as refused:
        client.chat.completions.create(model="rag-vi", messages=[user(HUE_BRIDGES)])  # type: ignore[list-item]
    assert isinstance(refused.value.body, dict) and refused.value.body["code"] == "invalid_api_key"
    with pytest.raises(openai.AuthenticationError):
        client.models.list()
    assert httpx.get(f"{locked.url}v1/models").status_code == 401


@pytest.mark.parametrize("key", ["k-123", "ann:mat-khau-7"], ids=["RAG_API_KEY", "the RAG_AUTH login"])
def test_the_key_or_the_login_is_let_in(locked: Served, key: str) -> None:
    reply = locked.client(key).chat.completions.create(model="rag-vi", messages=[user(HUE_BRIDGES)])  # type: ignore[list-item]
    assert "11" in (reply.choices[0].message.content or "")


def test_the_login_as_http_basic_is_let_in(locked: Served) -> None:
    assert httpx.get(f"{locked.url}v1/models", auth=("ann", "mat-khau-7")).status_code == 200
    assert httpx.get(f"{locked.url}v1/models", auth=("ann", "sai")).status_code == 401


# --- plain curl -------------------------------------------------------------------------------------------------


def test_curl_gets_the_answer_whole_and_streamed(served: Served) -> None:
    curl = shutil.which("curl")
    assert curl, "curl is needed for this test (Debian: apt-get install curl; `make test` installs it)"
    body = json.dumps({"model": "rag-vi", "messages": [user(HUE_BRIDGES)]})
    command = [
        curl,
        "-sS",
        "--fail-with-body",
        f"{served.url}v1/chat/completions",
        "-H",
        "Content-Type: application/json",
    ]
    whole = subprocess.run([*command, "-d", body], capture_output=True, text=True, timeout=60, check=True)
    content = json.loads(whole.stdout)["choices"][0]["message"]["content"]
    assert "11" in content and "Nguồn:" in content
    streamed = subprocess.run(
        [*command, "-N", "-d", json.dumps(json.loads(body) | {"stream": True})],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    lines = [line.removeprefix("data: ") for line in streamed.stdout.splitlines() if line.startswith("data: ")]
    assert lines[-1] == "[DONE]"
    pieces = [json.loads(line)["choices"][0]["delta"].get("content", "") for line in lines[:-1]]
    assert "".join(pieces) == content


# --- the reply's text -------------------------------------------------------------------------------------------


def answer(mode: str, text: str, citations: tuple[Citation, ...] = ()) -> Answer:
    return Answer("q", "q", text, mode, citations, Timings(0, 0, 0), confidence=0.9, reason=Reason("x", "y"))  # type: ignore[arg-type]


def test_a_refusal_has_no_sources_and_a_quote_says_it_is_one() -> None:
    refusal = reply_text(answer("abstained", "Tài liệu không có thông tin."))
    assert refusal == "Tài liệu không có thông tin.\n\n*(Không trả lời)*"
    cited = Citation(1, "a.txt", "a", "Tin <b>", "2020-01-02", "a:0", "Xem ![x](http://h/p).", 0, 5)
    quote = reply_text(answer("extractive", "Xem ![x](http://h/p). [1]", (cited,)))
    assert "![" not in quote and "](" not in quote and "<" not in quote.replace("\\<", "")  # no image, link or tag
    assert "*(Trích nguyên văn)*" in quote and "- [1] Tin \\<b> (2020-01-02) — a.txt: “" in quote
    assert answer_of(quote) == "Xem !\\[x]\\(http\\://h/p). [1]"

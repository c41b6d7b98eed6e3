"""Serving safely: what a web page, a stranger's request or a malformed call can and cannot do to a running app.

A live server on 127.0.0.1 (fakes: a bag-of-words embedder and an echoing model) is sent forged `Host` and
`Origin` headers (DNS rebinding, cross-site pages), calls of the page's own handlers from outside the page
(upload, remove, the chat, the model picker), malformed API calls (wrong types, missing arguments, text that
is not Unicode), and MCP calls; the documents are checked unchanged after every refused change. The pipeline is
given histories of random sizes against small context windows (hypothesis): the prompt always fits, nothing
raises. Each input is counted in the reliability tally as "serving hostile inputs tried".
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import CHECKS_ONLY, Echo, Tally, free_port, two_cities
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rag.errors import GeneratorError
from rag.generate import Message
from rag.guard import allowed_hosts, hostname
from rag.library import Library
from rag.pipeline import Pipeline
from rag.server import serve
from rag.types import Turn
from rag.ui import build_app

WHAT = "Thành phố Huế có bao nhiêu cây cầu?"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any, Library]]:
    """The app as `rag serve` serves it by default: its URL, the Gradio app and its library."""
    pipeline, library = two_cities(tmp_path_factory.mktemp("serving"), Echo())
    app = build_app(pipeline, library)
    url = serve(app, port=free_port(), max_upload_mb=1, block=False)
    try:
        yield url, app, library
    finally:
        app.close()


def documents(library: Library) -> list[str]:
    return [d.id for d, _ in library.retriever.documents()]


def port_of(url: str) -> int:
    return int(url.rstrip("/").rsplit(":", 1)[1])


def call(url: str, name: str, data: list[Any], **headers: str) -> tuple[int, str]:
    """A plain HTTP call of an endpoint by name: (the status of the call, the text of its result or refusal)."""
    body = json.dumps({"data": data})
    got = httpx.post(
        f"{url}gradio_api/call/{name}", content=body, headers={"content-type": "application/json", **headers}
    )
    if got.status_code != 200:
        return got.status_code, got.text
    with httpx.stream("GET", f"{url}gradio_api/call/{name}/{got.json()['event_id']}", timeout=60) as events:
        return 200, " ".join(line[5:].strip() for line in events.iter_lines() if line.startswith("data:"))


# --- the Host and Origin a request comes with -------------------------------------------------------------------


def test_host_names_are_read_without_port_or_brackets() -> None:
    assert hostname("LOCALHOST:7860") == "localhost" and hostname("[::1]:7860") == "::1"
    assert hostname("") is None and hostname("a:b:c") is None
    assert {"127.0.0.1", "localhost", "::1", "10.0.0.5", "rag.example"} <= allowed_hosts("10.0.0.5", ["rag.example"])
    assert "10.0.0.5" not in allowed_hosts("127.0.0.1")


def test_a_forged_host_is_refused_before_the_app_sees_it(served: tuple[str, Any, Library], tally: Tally) -> None:
    url, _, library = served
    before = documents(library)
    port = port_of(url)
    for host in (f"evil.example:{port}", "evil.example", f"127.0.0.1.evil.example:{port}", f"localhost.:{port}x"):
        for method, path, body in (
            ("GET", "", None),
            ("GET", "gradio_api/info", None),
            ("POST", "gradio_api/call/documents", {"data": []}),
            ("POST", "gradio_api/mcp/", {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
        ):
            got = httpx.request(method, url + path, json=body, headers={"Host": host, "Origin": f"http://{host}"})
            assert got.status_code == 421, (host, path, got.status_code)
            assert "Thành phố" not in got.text and "hue.txt" not in got.text
            tally.add("serving hostile inputs tried")
    assert documents(library) == before


def test_a_page_of_another_origin_is_refused(served: tuple[str, Any, Library], tally: Tally) -> None:
    url, _, _ = served
    port = port_of(url)
    for origin in (
        "http://evil.example",
        f"http://evil.example:{port}",
        "http://localhost:3000",
        "null",
        f"https://127.0.0.1:{port + 1}",
        "file://",
    ):
        status, text = call(url, "documents", [], Origin=origin)
        assert status == 403 and "RAG_ALLOWED_ORIGINS" in text and "hue.txt" not in text, (origin, status, text)
        tally.add("serving hostile inputs tried")
    for own in (f"http://127.0.0.1:{port}", f"http://localhost:{port}"):  # the page itself, by either name
        status, text = call(url, "documents", [], Origin=own)
        assert status == 200 and "hue.txt" in text, (own, status)


def test_every_response_forbids_framing_and_sniffing(served: tuple[str, Any, Library]) -> None:
    url, _, _ = served
    for path in ("", "gradio_api/info", "config"):
        headers = httpx.get(url + path).headers
        assert headers["x-frame-options"] == "DENY"
        assert headers["content-security-policy"] == "frame-ancestors 'none'"
        assert headers["x-content-type-options"] == "nosniff" and headers["referrer-policy"] == "no-referrer"


# --- the page's own handlers --------------------------------------------------------------------------------------


def test_the_pages_handlers_cannot_be_called_from_outside_it(served: tuple[str, Any, Library], tally: Tally) -> None:
    url, app, library = served
    before = documents(library)
    ui = {f.api_name: index for index, f in app.fns.items() if f.api_visibility != "public"}
    remove = next(
        index
        for index, f in app.fns.items()
        if f.api_visibility != "public" and f.inputs and getattr(f.inputs[0], "label", "") == "Tài liệu cần xoá"
    )
    attempts = [(name, ["docs/hue.txt"]) for name in ui] + [("use_model", ["other"]), ("respond", [WHAT, [], 5])]
    for name, data in attempts:
        status, text = call(url, name, data)
        assert status == 403 and "only the API" in text, (name, status, text)
        tally.add("serving hostile inputs tried")
    # the function named by index instead, through a public endpoint's route and through the queue
    for route in ("call/ask", "call/v2/ask", "run/ask", "queue/join"):
        body = {"data": ["docs/hue.txt"], "fn_index": remove, "session_hash": "s"}
        got = httpx.post(f"{url}gradio_api/{route}", json=body)
        assert got.status_code == 403, (route, got.status_code, got.text[:200])
        tally.add("serving hostile inputs tried")
    got = httpx.post(f"{url}gradio_api/upload", files={"files": ("moi.txt", "Hồ Tây\n\nHồ Tây rộng.".encode())})
    assert got.status_code == 403
    tally.add("serving hostile inputs tried")
    assert documents(library) == before  # nothing was removed or added


def test_the_page_itself_may_call_them(served: tuple[str, Any, Library]) -> None:
    """What the browser does: it loads the page (which sets the cookie) and calls the handlers with it. A local
    program can do the same, which is why RAG_AUTH is what keeps local programs out."""
    url, _, _ = served
    with httpx.Client() as page:
        assert page.get(url).status_code == 200 and any(c.startswith("rag_page_") for c in page.cookies)
        got = page.post(f"{url}gradio_api/upload", files={"files": ("moi.txt", "Hồ Tây\n\nHồ Tây rộng.".encode())})
        assert got.status_code == 200
        for path in got.json():
            Path(path).unlink()
        forged = httpx.post(
            f"{url}gradio_api/upload", files={"files": ("x.txt", b"x")}, cookies={next(iter(page.cookies)): "forged"}
        )
        assert forged.status_code == 403


# --- malformed calls -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data", "named"),
    [
        ("ask", [], "question: missing"),
        ("ask", [None], "question:"),
        ("ask", [123], "question:"),
        ("ask", ["\ud800 hỏi"], "question: not valid Unicode"),
        ("ask", [WHAT, 123], "history:"),
        ("ask", [WHAT, [{"role": "robot", "content": "x"}]], "history.0.role"),
        ("ask", [WHAT, [{"role": "user", "content": "\udfff"}]], "history: not valid Unicode"),
        ("search", [None], "query:"),
        ("search", ["cầu", 99], "k: must be a whole number between 1 and 50"),
        ("search", ["cầu", "5"], "k:"),
    ],
)
def test_a_bad_call_gets_a_short_message_naming_the_argument(
    served: tuple[str, Any, Library], tally: Tally, name: str, data: list[Any], named: str
) -> None:
    status, text = call(served[0], name, data)
    assert named in text, (status, text)
    assert "object at 0x" not in text and "NoneType" not in text and "Traceback" not in text
    tally.add("serving hostile inputs tried")


def test_an_optional_argument_may_be_left_out_and_blank_queries_find_nothing(served: tuple[str, Any, Library]) -> None:
    url = served[0]
    status, text = call(url, "ask", [WHAT])  # no history: its default
    assert status == 200 and "11 cây cầu" in json.loads(text)[0]["answer"]
    for blank in ("", "\x00\x00", "\u0301\u0300", " \u200b "):
        assert call(url, "search", [blank, 3]) == (200, "[[]]")


def test_ask_says_when_the_question_was_cut(served: tuple[str, Any, Library]) -> None:
    status, text = call(served[0], "ask", [WHAT + " " + "rất " * 400])
    answer = json.loads(text)[0]
    assert status == 200 and answer["question_cut"] is True and "1000" in answer["notice"]
    assert json.loads(call(served[0], "ask", [WHAT])[1])[0]["question_cut"] is False


# --- MCP ----------------------------------------------------------------------------------------------------------


def test_mcp_tools_answer_json_with_structured_content(served: tuple[str, Any, Library]) -> None:
    from mcp import ClientSession
    from mcp.client.streamable_http import streamablehttp_client

    async def talk() -> list[Any]:
        url = f"{served[0]}gradio_api/mcp/"
        async with streamablehttp_client(url) as (read, write, _), ClientSession(read, write) as session:
            await session.initialize()
            calls = [("ask", {"question": WHAT}), ("search", {"query": "cây cầu Huế", "k": 2}), ("documents", {})]
            return [await session.call_tool(name, arguments) for name, arguments in calls]

    asked, found, listed = asyncio.run(talk())
    answer = json.loads(asked.content[0].text)  # JSON, not Python's repr
    assert "11 cây cầu" in answer["answer"] and asked.structuredContent == answer
    assert found.structuredContent == {"result": json.loads(found.content[0].text)}
    assert [d["id"] for d in listed.structuredContent["result"]] == ["docs/hue.txt", "docs/vinh.txt"]


# --- the prompt always fits the model's context window --------------------------------------------------------------


@pytest.fixture(scope="module")
def small_windows(tmp_path_factory: pytest.TempPathFactory) -> Pipeline:
    pipeline, _ = two_cities(tmp_path_factory.mktemp("windows"), Echo())
    return pipeline


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    window=st.sampled_from([512, 700, 1024, 4096]),
    question=st.integers(1, 1500),
    turns=st.lists(st.tuples(st.sampled_from(["user", "assistant"]), st.integers(0, 30_000)), max_size=6),
)
def test_no_history_or_question_overflows_the_context_window(
    small_windows: Pipeline, window: int, question: int, turns: list[tuple[str, int]]
) -> None:
    pipeline = Pipeline(
        small_windows.retriever, Echo(window), abstain_below=0.0, confidence=CHECKS_ONLY, context_tokens=window
    )
    history = [Turn(role, ("cầu Huế " * n)[:n]) for role, n in turns]  # type: ignore[arg-type]
    asked = ("Còn cây cầu thì sao " * question)[:question] + "?"
    answer = pipeline.ask(asked, history)  # the Echo model raises on a prompt over its window, as llama.cpp does
    assert answer.mode in ("generated", "extractive", "abstained")


def test_a_model_failure_is_one_clear_line() -> None:
    from rag.generate import LlamaGenerator

    class Broken:
        def create_chat_completion(self, **_: Any) -> Iterator[Any]:
            raise ValueError("Requested tokens (7657) exceed context window of 4096")
            yield  # a generator, as llama-cpp-python's stream is

        _ctx = None

    generator = LlamaGenerator(Broken(), "broken")
    generator._counters = lambda: (0.0, 0.0, 0, 0)  # type: ignore[method-assign]
    with pytest.raises(GeneratorError, match=r"could not answer .*try a shorter question"):
        list(generator.stream([Message("user", "x")], 10))


# --- the documents tab --------------------------------------------------------------------------------------------


def test_an_upload_is_checked_under_the_name_it_would_be_stored_under(tmp_path: Path, tally: Tally) -> None:
    from rag.ui import Handlers

    pipeline, library = two_cities(tmp_path / "home", Echo())
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    for name, text in (("\u200b.txt", "Hồ Tây\n\nHồ Tây rộng 500 hecta."), ("trong.md", " \n")):
        (incoming / name).write_text(text, encoding="utf-8")
    result = library.add([(p.name, p) for p in sorted(incoming.iterdir())])
    # "\u200b.txt" is stored as "txt" (the invisible character and the leading dot go): no type, so refused
    assert [s.path for s in result.refused] == ["\u200b.txt"] and "không có đuôi" in result.refused[0].reason
    assert not (library.settings.uploads_path / "txt").exists()
    assert [Path(s.path).name for s in result.skipped] == ["trong.md"]
    assert result.skipped[0].vi == "không còn chữ nào sau khi làm sạch"  # the app speaks Vietnamese
    report = Handlers(pipeline, library).upload([str(incoming / "trong.md")])
    assert "Bỏ qua: trong.md — không còn chữ nào sau khi làm sạch" in report
    tally.add("serving hostile inputs tried", 2)

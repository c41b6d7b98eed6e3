"""The app through `build_app` and its handlers with fakes; a live server on 127.0.0.1 for the API, MCP, 8 clients."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import gradio as gr
import httpx
import pytest
from conftest import CHECKS_ONLY, FakeEmbedder, FakeGenerator, chromium_page, free_port, mcp_session

from rag import indexing, store
from rag.config import CHECKOUT, Settings
from rag.generate import Message, Stream, Usage
from rag.library import Library, safe_name
from rag.payloads import answer_json
from rag.pipeline import Pipeline
from rag.retrieve import Retriever
from rag.server import serve
from rag.ui import Handlers, build_app
from rag.view import WRITING

CITIES = ["Huế", "Vinh", "Hội An", "Đà Lạt", "Cần Thơ", "Nha Trang", "Quy Nhơn", "Hải Phòng"]
HOSTILE = "<img src=x onerror=window.__xss=1> và <script>window.__xss=2</script> và ![ảnh](/leak.png)"


def city_doc(i: int, city: str) -> str:
    return f"Thành phố {city}\n\nThành phố {city} có {11 + i} cây cầu bắc qua sông. Chợ đêm mở cửa lúc 18 giờ."


class EchoGenerator:
    """Replies with the first sentence of passage [1] of its prompt, cited, one word at a time, slowly.

    Records how many streams ran at once: the app must serialise the single local model.
    """

    name = "echo-llm"

    def __init__(self, delay: float = 0.01) -> None:
        self.delay, self.active, self.most, self.calls = delay, 0, 0, 0
        self.lock = threading.Lock()
        self.last_prompt = ""

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def warm_up(self, system: str) -> None:
        pass

    def stream(self, messages: Sequence[Message], max_tokens: int) -> Stream:
        with self.lock:
            self.active += 1
            self.calls += 1
            self.most = max(self.most, self.active)
        try:
            self.last_prompt = messages[-1].content
            first = re.search(r"^\[1\] (?:[^:\n]*: )?(.+?\.)( |$)", messages[-1].content, re.M)  # header or none
            reply = f"{first.group(1) if first else 'Không rõ.'} [1]"
            for word in reply.split(" "):
                time.sleep(self.delay)
                yield word + " "
        finally:
            with self.lock:
                self.active -= 1
        return Usage()


@pytest.fixture
def home(isolated: Path) -> Path:
    docs = isolated / "docs"
    docs.mkdir()
    for i, city in enumerate(CITIES):
        (docs / f"city{i}.txt").write_text(city_doc(i, city), encoding="utf-8")
    (docs / "hostile.txt").write_text(f"Thẻ nguy hiểm\n\nChuỗi thử nghiệm {HOSTILE} nằm trong tài liệu.", "utf-8")
    return isolated


@pytest.fixture
def settings(home: Path) -> Settings:
    return Settings(home=home, index_dir=Path("index"), n_threads=1, max_upload_mb=0.01)


@pytest.fixture
def parts(settings: Settings) -> tuple[Pipeline, Library, EchoGenerator]:
    embedder = FakeEmbedder()
    indexing.update([settings.home / "docs"], embedder, settings)
    retriever = Retriever(store.load(settings.index_path), embedder)
    generator = EchoGenerator()
    pipeline = Pipeline(retriever, generator, abstain_below=0.0, confidence=CHECKS_ONLY)  # type: ignore[arg-type]
    return pipeline, Library(settings, retriever), generator


@pytest.fixture
def handlers(parts: tuple[Pipeline, Library, EchoGenerator]) -> Handlers:
    return Handlers(parts[0], parts[1])


def question(i: int) -> str:
    return f"Thành phố {CITIES[i]} có bao nhiêu cây cầu?"


# --- handlers --------------------------------------------------------------------------------------------------


def test_the_chat_streams_a_draft_then_the_checked_answer_with_its_sources(handlers: Handlers) -> None:
    steps = list(handlers.respond(question(3), [], 5))
    first, last = steps[0], steps[-1]
    assert first[0] == [{"role": "user", "content": question(3)}, {"role": "assistant", "content": "…"}]
    assert first[1] == ""  # the question box is cleared at once
    drafts = [s[0][-1]["content"] for s in steps[1:-1]]
    assert len(drafts) >= 5 and drafts[0] != drafts[-1]  # the answer grows piece by piece
    messages, _, panel = last
    assert "Thành phố Đà Lạt có 14 cây cầu bắc qua sông \\[1\\]." in messages[-1]["content"]  # [1] shown as typed
    assert "(Mô hình viết)" in messages[-1]["content"]
    assert 'class="rag-mode rag-mode-generated"' in panel
    assert "[1] Thành phố Đà Lạt" in panel and "city3.txt" in panel
    assert "<mark>Thành phố Đà Lạt có 14 cây cầu bắc qua sông." in panel  # the cited sentence, marked


def test_the_quote_and_its_sources_come_first_then_the_model_s_words_then_the_answer(handlers: Handlers) -> None:
    steps = list(handlers.respond(question(3), [], 5))
    shown_text = [s[0][-1]["content"] for s in steps]
    panels = [s[2] for s in steps]
    assert shown_text[0] == "…" and "rag-waiting" in panels[0]  # the question was received
    draft = shown_text[1]  # next, before the model's first word: the quote, marked as a draft, with its sources
    assert "14 cây cầu" in draft and "*(Bản nháp: trích nguyên văn)*" in draft and WRITING not in draft
    assert 'class="rag-draft"' in panels[1] and "city3.txt" in panels[1] and "rag-mode" not in panels[1]
    writing = shown_text[2:-1]
    assert writing and all(t.startswith(draft) and WRITING in t for t in writing)  # the model's words below it
    assert all(p == panels[1] for p in panels[2:-1])  # the draft's sources stay until the answer
    assert "(Mô hình viết)" in shown_text[-1] and "Bản nháp" not in shown_text[-1]
    assert 'class="rag-mode rag-mode-generated"' in panels[-1]


def test_a_reply_that_fails_its_checks_is_quoted_instead_and_the_panel_says_why(parts: Any) -> None:
    pipeline = Pipeline(
        parts[0].retriever, FakeGenerator("Thành phố Huế có 99 cây cầu [1]."), abstain_below=0.0, confidence=CHECKS_ONLY
    )
    messages, _, panel = list(Handlers(pipeline).respond(question(0), [], 5))[-1]
    assert "99" not in messages[-1]["content"] and "11 cây cầu" in messages[-1]["content"]
    assert "(Trích nguyên văn)" in messages[-1]["content"] and 'rag-mode-extractive"' in panel
    assert "không qua được bước kiểm chứng" in panel


def test_a_follow_up_uses_the_history_it_is_given_and_nothing_else(handlers: Handlers) -> None:
    first = list(handlers.respond(question(1), [], 5))[-1][0]
    follow = list(handlers.respond("Còn chợ đêm thì sao?", first, 5))[-1]
    assert "Thành phố Vinh" in follow[2]  # joined to the previous question of this conversation
    other = list(handlers.respond("Còn chợ đêm thì sao?", [{"role": "user", "content": question(6)}], 5))[-1]
    assert "Thành phố Quy Nhơn" in other[2] and "Thành phố Vinh" not in other[2]


def test_what_the_chat_shows_comes_back_as_typed_in_the_history(handlers: Handlers, parts: Any) -> None:
    asked = "Cầu *A&B* [2] ở Huế?"
    messages = list(handlers.respond(asked, [], 5))[-1][0]
    assert messages[0]["content"] != asked  # escaped for the page
    list(handlers.respond("Còn chợ đêm thì sao?", messages, 5))
    assert f"(Câu hỏi trước đó: {asked})" in parts[2].last_prompt  # not "&amp;" or "\\*"
    # as the browser sends it back: Gradio hands content over as a list of text parts
    as_sent = [{"role": m["role"], "content": [{"type": "text", "text": m["content"]}]} for m in messages]
    list(handlers.respond("Còn chợ đêm thì sao?", as_sent, 5))
    assert f"(Câu hỏi trước đó: {asked})" in parts[2].last_prompt
    # an API caller's history was never escaped: it is used exactly as sent
    handlers.ask("Còn chợ đêm thì sao?", [{"role": "user", "content": "Cầu A&amp;B \\[2\\] ở Huế?"}])
    assert "(Câu hỏi trước đó: Cầu A&amp;B \\[2\\] ở Huế?)" in parts[2].last_prompt


def test_an_empty_question_is_a_message_not_a_traceback(handlers: Handlers) -> None:
    with pytest.raises(gr.Error, match="Hãy nhập một câu hỏi"):
        list(handlers.respond(" \u200b ", [], 5))
    with pytest.raises(gr.Error, match="question is empty"):
        handlers.ask("   ")


def test_document_text_and_questions_are_escaped_in_the_panel_and_the_chat(handlers: Handlers) -> None:
    asked = f"Chuỗi thử nghiệm {HOSTILE} là gì?"
    messages, _, panel = list(handlers.respond(asked, [], 5))[-1]
    assert "Thẻ nguy hiểm" in panel
    assert "<img" not in panel and "<script" not in panel
    assert "&lt;img src=x onerror=window.__xss=1&gt;" in panel
    assert all("<img" not in m["content"] and "<script" not in m["content"] for m in messages)


def test_the_api_answer_has_the_fields_of_rag_ask_json(handlers: Handlers, parts: Any) -> None:
    data = handlers.ask(question(5), [])
    assert set(data) == set(answer_json(parts[0].ask(question(5))))
    assert data["mode"] == "generated" and "16 cây cầu" in data["answer"]
    assert [c["doc"] for c in data["citations"]] == ["city5.txt"]
    later = handlers.ask(
        "Còn chợ đêm thì sao?",
        [{"role": "user", "content": question(5)}, {"role": "assistant", "content": data["answer"]}],
    )
    assert [c["doc"] for c in later["citations"]] == ["city5.txt"]


def test_search_and_documents(handlers: Handlers) -> None:
    hits = handlers.search("cây cầu Cần Thơ", 3)
    assert [h["rank"] for h in hits] == [1, 2, 3] and hits[0]["doc_id"] == "docs/city4.txt"
    with pytest.raises(gr.Error, match="between 1 and 50"):
        handlers.search("cầu", 0)
    docs = handlers.documents()
    assert len(docs) == 9 and docs[0] == {
        "id": "docs/city0.txt",
        "title": "Thành phố Huế",
        "title_derived": False,
        "date": None,
        "source": None,
        "chunks": 1,
        "ocr_pages": 0,
        "converted_from": None,
    }


def test_upload_sanitises_names_indexes_checks_type_and_size_and_remove_undoes_it(
    handlers: Handlers, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> None:
    incoming = tmp_path_factory.mktemp("incoming")
    good = incoming / "bien.txt"
    good.write_text("Bãi biển Mỹ Khê\n\nBãi biển Mỹ Khê dài 9 cây số.", encoding="utf-8")
    (incoming / "virus.exe").write_bytes(b"MZ")
    (incoming / "huge.txt").write_text("x" * 20_000, encoding="utf-8")  # over the 0.01 MB limit of the fixture
    (incoming / "empty.md").write_text(" \n", encoding="utf-8")
    # Gradio hands over temporary paths; the name a browser sent may try to climb out of the uploads folder
    files = [
        ("../../../etc/bien.txt", good),
        ("virus.exe", incoming / "virus.exe"),
        ("huge.txt", incoming / "huge.txt"),
        ("empty.md", incoming / "empty.md"),
    ]
    result = handlers.library.add(files)  # type: ignore[union-attr]
    saved = settings.uploads_path / "bien.txt"
    assert saved.is_file() and not (settings.home / "etc").exists()
    assert result.added == ["data/uploads/bien.txt"]
    assert {s.path: s.reason.split(" ")[0] for s in result.refused} == {"virus.exe": "loại", "huge.txt": "tệp"}
    assert [Path(s.path).name for s in result.skipped] == ["empty.md"]
    assert not (settings.uploads_path / "empty.md").exists()  # nothing unreadable is kept
    assert handlers.search("Mỹ Khê", 1)[0]["doc_id"] == "data/uploads/bien.txt"  # searchable at once
    report = handlers.upload([str(good)])
    assert "Không đổi (đã có): bien.txt" in report
    good.write_text("Bãi biển Mỹ Khê\n\nBãi biển Mỹ Khê dài 10 cây số.", encoding="utf-8")
    assert "Đã cập nhật: bien.txt" in handlers.upload([str(good)])  # the same name again: a new version
    assert "10 cây số" in handlers.search("Mỹ Khê", 1)[0]["text"]
    assert not good.exists()  # Gradio's cached copy is deleted once the document is in the uploads folder
    good.write_text("Bãi biển Mỹ Khê\n\nBãi biển Mỹ Khê dài 10 cây số.", encoding="utf-8")
    (incoming / "blank").mkdir()
    blank = incoming / "blank" / "bien.txt"
    blank.write_text("   \n", encoding="utf-8")  # an unreadable new version: the old one stays, file and index
    assert "Bỏ qua: bien.txt" in handlers.upload([str(blank)])
    assert "10 cây số" in saved.read_text(encoding="utf-8") and "10 cây số" in handlers.search("Mỹ Khê", 1)[0]["text"]
    assert sorted(p.name for p in settings.uploads_path.iterdir()) == ["bien.txt"]  # no version left aside

    assert handlers.remove("data/uploads/bien.txt") == "Đã xoá data/uploads/bien.txt."
    assert not saved.exists()
    assert all(d["id"] != "data/uploads/bien.txt" for d in handlers.documents())
    assert handlers.search("Mỹ Khê", 1)[0]["doc_id"] != "data/uploads/bien.txt"
    assert "không có trong chỉ mục" in handlers.remove("data/uploads/bien.txt")
    with pytest.raises(gr.Error, match="Chưa chọn tệp"):
        handlers.upload([])


def test_upload_progress_reaches_the_progress_bar(handlers: Handlers, tmp_path_factory: pytest.TempPathFactory) -> None:
    calls: list[tuple[Any, str]] = []

    def bar(progress: Any, desc: str = "", **_: Any) -> None:
        calls.append((progress, desc))

    incoming = tmp_path_factory.mktemp("progress")
    for i in range(3):
        (incoming / f"ho{i}.txt").write_text(f"Hồ số {i}\n\nHồ số {i} sâu {i + 2} mét.", encoding="utf-8")
    report = handlers.upload([str(p) for p in sorted(incoming.iterdir())], bar)  # type: ignore[arg-type]
    assert report.count("Đã thêm") == 3
    assert calls[0] == (None, "reading documents")
    assert (0, "embedding 3 chunks") in calls and calls[-2] == ((3, 3), "embedding 3 chunks")
    assert calls[-1] == (None, "writing the index")


def test_two_files_of_one_upload_with_the_same_name_are_not_merged(
    handlers: Handlers, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> None:
    first, second = tmp_path_factory.mktemp("one"), tmp_path_factory.mktemp("two")
    (first / "a.txt").write_text("Hồ Tây\n\nHồ Tây rộng 500 hecta.", encoding="utf-8")
    (second / "a.TXT").write_text("Hồ Gươm\n\nHồ Gươm rộng 12 hecta.", encoding="utf-8")
    result = handlers.library.add([("a.txt", first / "a.txt"), ("a.TXT", second / "a.TXT")])  # type: ignore[union-attr]
    assert result.added == ["data/uploads/a.txt"]
    assert [(s.path, s.reason) for s in result.refused] == [
        ("a.TXT", "cùng tên với một tệp khác trong lần tải này (a.txt)")
    ]
    assert "500 hecta" in (settings.uploads_path / "a.txt").read_text(encoding="utf-8")


def test_a_failed_index_update_puts_the_previous_version_back(
    parts: Any, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> None:
    pipeline, library, _ = parts
    incoming = tmp_path_factory.mktemp("failing")
    (incoming / "ho.txt").write_text("Hồ Tây\n\nHồ Tây rộng 500 hecta.", encoding="utf-8")
    library.add([("ho.txt", incoming / "ho.txt")])
    (incoming / "ho.txt").write_text("Hồ Tây\n\nHồ Tây rộng 600 hecta.", encoding="utf-8")

    def broken(texts: Sequence[str], kind: str) -> Any:
        raise RuntimeError("embedder crashed")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(library.retriever.embedder, "embed", broken)
        with pytest.raises(RuntimeError):
            library.add([("ho.txt", incoming / "ho.txt")])
    assert "500 hecta" in (settings.uploads_path / "ho.txt").read_text(encoding="utf-8")
    assert [p.name for p in settings.uploads_path.iterdir()] == ["ho.txt"]
    assert "500 hecta" in pipeline.retriever.search("Hồ Tây", 1)[0].chunk.text


def test_safe_names_never_leave_the_folder() -> None:
    for name in ["../../x.txt", "..\\..\\x.txt", "/etc/x.txt", "x.txt\x00.exe", "....txt", "", "a/b/../c.PDF"]:
        cleaned = safe_name(name)
        assert "/" not in cleaned and "\\" not in cleaned and not cleaned.startswith(".") and "\x00" not in cleaned
    assert safe_name("a/b/../c.PDF") == "c.pdf"
    assert len(safe_name("ệ" * 150 + ".txt").encode()) <= 184  # bytes, not characters: file systems allow 255


def test_switching_models_replaces_the_generator_for_everyone(parts: Any) -> None:
    from rag.errors import GeneratorError
    from rag.ui import Model

    pipeline, library, _ = parts
    other = FakeGenerator("Thành phố Huế có 11 cây cầu bắc qua sông [1].")
    other.name = "other"

    def broken() -> Any:
        raise GeneratorError("could not load the language model broken.gguf")

    h = Handlers(
        pipeline, library, [Model("echo-llm", EchoGenerator), Model("other", lambda: other), Model("broken", broken)]
    )
    assert h.current_model() == "echo-llm"
    status, picker = h.use_model("other")
    assert status == "Đã chuyển sang other." and picker == gr.skip()  # the picker already shows it
    assert pipeline.generator is other and h.current_model() == "other"
    assert h.ask(question(0))["answer"].startswith("Thành phố Huế có 11 cây cầu")
    status, picker = h.use_model("broken")  # the old model keeps answering, and the picker says so
    assert status.startswith("Không tải được broken: could not load") and picker.value == "other"
    assert pipeline.generator is other
    assert h.use_model("missing")[1].value == "other"


def test_build_app_names_three_endpoints_and_hides_the_ui_events(parts: Any) -> None:
    app = build_app(parts[0], parts[1])
    api = app.get_api_info()
    assert set(api["named_endpoints"]) == {"/ask", "/search", "/documents"}
    assert [p["parameter_name"] for p in api["named_endpoints"]["/ask"]["parameters"]] == ["question", "history"]


# --- a live server ---------------------------------------------------------------------------------------------


@pytest.fixture
def server(parts: Any) -> Iterator[tuple[str, EchoGenerator]]:
    app = build_app(parts[0], parts[1])
    url = serve(app, port=free_port(), block=False)
    try:
        yield url, parts[2]
    finally:
        app.close()


def test_the_server_binds_loopback_only(server: tuple[str, EchoGenerator]) -> None:
    assert server[0].startswith("http://127.0.0.1:")
    port = f"{int(server[0].rsplit(':', 1)[1].strip('/')):04X}"
    listening = set()  # what the kernel says is listening on that port: (local address) of LISTEN sockets
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            if state == "0A" and local.endswith(f":{port}"):
                listening.add(local.rsplit(":", 1)[0])
    assert listening == {"0100007F"}  # 127.0.0.1 only, not 0.0.0.0 or ::


def test_eight_clients_asking_at_once_get_their_own_answers_one_model_call_at_a_time(
    server: tuple[str, EchoGenerator],
) -> None:
    from gradio_client import Client

    url, generator = server
    generator.delay = 0.03

    def ask(i: int) -> dict[str, Any]:
        return Client(url, verbose=False).predict(question(i), [], api_name="/ask")  # type: ignore[no-any-return]

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(ask, range(8)))
    for i, data in enumerate(answers):
        assert f"{11 + i} cây cầu" in data["answer"], (i, data["answer"])
        assert [c["doc"] for c in data["citations"]] == [f"city{i}.txt"]
    assert generator.calls == 8 and generator.most == 1  # queued, never two streams of the one model at once


def test_api_over_plain_http_and_gradio_client(server: tuple[str, EchoGenerator]) -> None:
    from gradio_client import Client

    url, _ = server
    client = Client(url, verbose=False)
    assert client.predict("cây cầu Huế", 2, api_name="/search")[0]["doc_id"] == "docs/city0.txt"
    assert len(client.predict(api_name="/documents")) == 9
    # the curl recipe of the README: POST the arguments, then read the event stream for the result
    event = httpx.post(f"{url}gradio_api/call/ask", json={"data": [question(2), []]}).json()["event_id"]
    with httpx.stream("GET", f"{url}gradio_api/call/ask/{event}", timeout=60) as stream:
        body = "".join(stream.iter_text())
    done = body.split("event: complete\ndata: ", 1)[1]
    assert "13 cây cầu" in json.loads(done)[0]["answer"]


def test_no_file_outside_gradios_upload_cache_can_be_downloaded(server: tuple[str, EchoGenerator], home: Path) -> None:
    url, _ = server
    for path in ["/etc/passwd", str(home / "docs" / "city0.txt"), str(CHECKOUT / "pyproject.toml"), "../../etc/passwd"]:
        got = httpx.get(f"{url}gradio_api/file={path}")
        assert got.status_code in (403, 404), (path, got.status_code)
        assert "Thành phố" not in got.text and "root:" not in got.text


def test_the_mcp_tools_answer_through_the_mcp_client(server: tuple[str, EchoGenerator]) -> None:
    calls = [("ask", {"question": question(7)}), ("search", {"query": "cây cầu Vinh", "k": 1})]
    tools, (asked, found) = mcp_session(f"{server[0]}gradio_api/mcp/", calls)
    assert {"ask", "search", "documents"} <= tools
    assert "18 cây cầu" in asked and "city7.txt" in asked
    assert "docs/city1.txt" in found


def test_login_is_enforced_when_configured(parts: Any) -> None:
    from gradio_client import Client

    app = build_app(parts[0], parts[1])
    url = serve(app, port=free_port(), auth="an:bí-mật", block=False)
    try:
        assert httpx.get(f"{url}gradio_api/info").status_code == 401
        assert httpx.post(f"{url}gradio_api/call/ask", json={"data": ["x", []]}).status_code == 401
        with pytest.raises(Exception):  # noqa: B017 - gradio_client raises a plain error for a refused login
            Client(url, verbose=False, auth=("an", "sai"))
        assert Client(url, verbose=False, auth=("an", "bí-mật")).predict(api_name="/documents")
        with httpx.Client() as session:  # plain HTTP: log in once, then the cookie opens the API
            session.post(f"{url}login", data={"username": "an", "password": "bí-mật"}).raise_for_status()
            assert session.get(f"{url}gradio_api/info").status_code == 200
    finally:
        app.close()


@pytest.mark.browser
def test_script_in_a_document_or_a_question_never_runs_in_the_browser(server: tuple[str, EchoGenerator]) -> None:
    url, _ = server
    with chromium_page() as page:
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        fetched: list[str] = []
        page.on("request", lambda r: fetched.append(r.url))
        page.goto(url)
        links = "http://evil.example/x www.evil.example ai@evil.example"  # GFM would make each a link
        page.fill("#question textarea", f"Chuỗi thử nghiệm {HOSTILE} là gì? {links}")
        page.click("#send")
        page.wait_for_selector("#sources .rag-mode", timeout=60_000)
        assert links in page.inner_text("#chat")  # shown as typed,
        assert page.locator("#chat a[href*='evil.example']").count() == 0  # and not one of them a link
        page.click("#sources summary")  # the whole passage too
        assert "<img src=x onerror=window.__xss=1>" in page.inner_text("#sources")  # shown as text
        assert "<script>window.__xss=2</script>" in page.inner_text("#chat")
        assert page.evaluate("window.__xss") is None and dialogs == []
        assert "![ảnh](/leak.png)" in page.inner_text("#chat")  # Markdown from a document is text too
        assert not [url for url in fetched if "leak" in url]  # no image fetched: a reply cannot smuggle data out
        assert page.locator("#sources img, #chat img[src=x], #sources script").count() == 0


@pytest.mark.browser
def test_in_the_browser_a_document_is_uploaded_listed_and_removed_and_the_chat_cleared(
    server: tuple[str, EchoGenerator], tmp_path_factory: pytest.TempPathFactory
) -> None:
    url, _ = server
    upload = tmp_path_factory.mktemp("browser") / "Bãi biển.txt"
    upload.write_text("Bãi biển Mỹ Khê\n\nBãi biển Mỹ Khê dài 9 cây số.", encoding="utf-8")
    with chromium_page() as page:
        page.goto(url)
        page.fill("#question textarea", question(0))
        page.click("#send")
        page.wait_for_selector("#sources .rag-mode", timeout=60_000)
        page.click("#clear")
        page.wait_for_function("() => !document.querySelector('#sources .rag-mode')")
        assert "11 cây cầu" not in page.inner_text("#chat")

        page.get_by_role("tab", name="Tài liệu").click()
        page.set_input_files("input[type=file]", str(upload))
        page.get_by_role("button", name="Thêm vào chỉ mục").click()
        page.wait_for_selector("text=Đã thêm: Bãi biển.txt", timeout=60_000)
        listed = "() => document.querySelector('#documents').innerText.includes('data/uploads/Bãi biển.txt')"
        page.wait_for_function(listed)
        page.get_by_label("Tài liệu cần xoá").click()
        page.get_by_role("option", name="Bãi biển Mỹ Khê (data/uploads/Bãi biển.txt)").click()
        page.get_by_role("button", name="Xoá tài liệu").click()
        page.wait_for_selector("text=Đã xoá data/uploads/Bãi biển.txt.", timeout=60_000)
        page.wait_for_function(f"() => !({listed})()")  # gone from the table


def test_another_host_than_loopback_is_served_only_with_a_warning(isolated: Path) -> None:
    env = {"RAG_HOME": str(isolated), "RAG_MANIFEST": str(CHECKOUT / "models" / "manifest.toml"), "PATH": "/usr/bin"}
    done = subprocess.run(
        [sys.executable, "-m", "rag", "serve", "--host", "0.0.0.0"],
        capture_output=True,
        text=True,
        env=env,
        cwd=isolated,
        timeout=120,
    )
    assert "warning: serving on 0.0.0.0, so other machines can reach" in done.stderr
    assert "set RAG_AUTH=user:password" in done.stderr
    assert done.returncode == 1 and "Traceback" not in done.stderr  # then it stops: no model in this home
    quiet = subprocess.run(
        [sys.executable, "-m", "rag", "serve"], capture_output=True, text=True, env=env, cwd=isolated, timeout=120
    )
    assert "warning" not in quiet.stderr


def test_a_port_in_use_is_a_message_before_any_model_is_loaded(isolated: Path) -> None:
    env = {"RAG_HOME": str(isolated), "RAG_MANIFEST": str(CHECKOUT / "models" / "manifest.toml"), "PATH": "/usr/bin"}
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = str(taken.getsockname()[1])
        done = subprocess.run(
            [sys.executable, "-m", "rag", "serve", "--port", port],
            capture_output=True,
            text=True,
            env=env,
            cwd=isolated,
            timeout=120,
        )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"cannot serve on 127.0.0.1:{port}" in done.stderr and "choose another --port" in done.stderr


def test_app_start_without_models_says_how_to_install_them(isolated: Path) -> None:
    env = {"RAG_HOME": str(isolated), "RAG_MANIFEST": str(CHECKOUT / "models" / "manifest.toml"), "PATH": "/usr/bin"}
    done = subprocess.run(
        [sys.executable, str(CHECKOUT / "app.py")], capture_output=True, text=True, env=env, cwd=isolated, timeout=120
    )
    assert done.returncode == 1
    assert "run `rag models install qwen2.5-coder-0.5b-instruct-q4_k_m`" in done.stderr
    assert "Traceback" not in done.stderr

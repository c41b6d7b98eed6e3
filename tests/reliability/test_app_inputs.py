"""The app under hostile input: upload names that try to leave the uploads folder, uploads over the size limit,
markup and script in documents, questions and model replies, requests without a login, the default address.

A battery beside the single examples of tests/test_app.py: each input goes through the seams the app itself
uses (`Library.add`, the `Handlers` methods, a live server on 127.0.0.1), is checked, and is counted in the
reliability tally as "app hostile inputs tried". What the page would show is judged as a browser would parse
it: the sources panel as HTML (`html.parser`), the chat and the upload report as Markdown (markdown-it,
CommonMark with raw HTML allowed), so a tag or link that survives unescaped is found whatever its spelling.
Fakes only: a bag-of-words embedder and a generator that echoes its passage or says what it is told.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import secrets
import unicodedata
from collections.abc import Iterator, Sequence
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import CHECKS_ONLY, FakeEmbedder, FakeGenerator, Tally, free_port
from markdown_it import MarkdownIt

from rag import indexing, store
from rag.cli import build_parser
from rag.config import Settings
from rag.generate import Message, Stream, Usage
from rag.library import Library, safe_name
from rag.pipeline import Pipeline
from rag.retrieve import Retriever
from rag.server import serve
from rag.ui import Handlers, build_app
from rag.view import plain, shown

LIMIT_MB = 0.01  # the uploads' size limit in these tests: 10,485 bytes
LIMIT = int(LIMIT_MB * 1024 * 1024)
HUE = "Thành phố Huế\n\nThành phố Huế có 11 cây cầu bắc qua sông. Chợ đêm mở cửa lúc 18 giờ."
VINH = "Thành phố Vinh\n\nThành phố Vinh có 12 cây cầu bắc qua sông. Chợ đêm mở cửa lúc 19 giờ."
SECRETS = ("Thành phố Huế", "11 cây cầu", "hue.txt")  # what a response without a login must not contain
LOGIN = ("an", "bí-mật")


class Echo:
    """A faithful model: replies with the sentence of passage [1] (after its title) that begins with `start`, cited."""

    name = "echo-llm"

    def __init__(self, start: str) -> None:
        self.start = start

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def warm_up(self, system: str) -> None:
        pass

    def stream(self, messages: Sequence[Message], max_tokens: int) -> Stream:
        line = next((x for x in messages[-1].content.splitlines() if x.startswith("[1] ")), "")
        found = re.search(re.escape(self.start) + r".*?\.(?= |$)", line.split(": ", 1)[-1])
        for word in f"{found.group() if found else 'Không rõ.'} [1]".split(" "):
            yield word + " "
        return Usage()


def app_parts(settings: Settings, docs: Path, generator: Any) -> tuple[Pipeline, Library]:
    embedder = FakeEmbedder()
    indexing.update([docs], embedder, settings)
    retriever = Retriever(store.load(settings.index_path), embedder)
    return Pipeline(retriever, generator, abstain_below=0.0, confidence=CHECKS_ONLY), Library(settings, retriever)


def city_docs(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "hue.txt").write_text(HUE, encoding="utf-8")
    (folder / "vinh.txt").write_text(VINH, encoding="utf-8")
    return folder


@pytest.fixture
def home(isolated: Path) -> Path:
    """Four folders below the tmp root, so that a name climbing up to six levels from data/uploads stays inside it."""
    home = isolated / "a" / "b" / "c" / "home"
    city_docs(home / "docs")
    return home


@pytest.fixture
def settings(home: Path) -> Settings:
    return Settings(home=home, index_dir=Path("index"), n_threads=1, max_upload_mb=LIMIT_MB)


@pytest.fixture
def parts(settings: Settings) -> tuple[Pipeline, Library]:
    return app_parts(settings, settings.home / "docs", Echo("Thành phố"))


@pytest.fixture
def handlers(parts: tuple[Pipeline, Library]) -> Handlers:
    return Handlers(*parts)


# --- how a browser would read what the app shows -----------------------------------------------------------------


class Markup(HTMLParser):
    """The elements (tag, attribute names) and the text of an HTML fragment, split as a browser's parser splits it."""

    def __init__(self, markup: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, set[str]]] = []
        self.text = ""
        self.feed(markup)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {name for name, _ in attrs}))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_data(self, data: str) -> None:
        self.text += data

    def handle_comment(self, data: str) -> None:
        self.elements.append(("<!--", set()))

    def handle_decl(self, decl: str) -> None:
        self.elements.append(("<!", set()))

    def handle_pi(self, data: str) -> None:
        self.elements.append(("<?", set()))

    def unknown_decl(self, data: str) -> None:
        self.elements.append(("<![", set()))


PANEL_TAGS = {"div", "p", "b", "br", "small", "blockquote", "mark", "details", "summary"}  # what rag.view writes
PANEL_ATTRIBUTES = {"class", "id"}
# what Markdown makes of plain text: formatting only; no links, images, raw HTML, and no attributes but a list's start
MARKDOWN_TAGS = {"p", "em", "strong", "br", "ol", "ul", "li", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "code", "pre"}
MARKDOWN = MarkdownIt("commonmark")  # raw HTML passes through it, as it would if the app forgot to escape


def panel_text(panel: str) -> str:
    """The text the sources panel shows; fails on any element or attribute that `rag.view` does not write itself."""
    parsed = Markup(panel)
    for tag, attributes in parsed.elements:
        assert tag in PANEL_TAGS and attributes <= PANEL_ATTRIBUTES, (tag, attributes, panel)
    return parsed.text


def markdown_text(content: str) -> str:
    """The text a Markdown message shows; fails on a link, an image, raw HTML or any attribute."""
    parsed = Markup(MARKDOWN.render(content))
    for tag, attributes in parsed.elements:
        assert tag in MARKDOWN_TAGS and attributes <= {"start"}, (tag, attributes, content)
    return parsed.text.strip()


def test_the_checks_find_what_escaping_would_have_stopped() -> None:
    """The helpers are the judges of every test below: they must reject what a browser would run or fetch."""
    for raw in [
        "<img src=x onerror=alert(1)>",
        '<a href="javascript:alert(1)">x</a>',
        "<p onclick=alert(1)>x</p>",
        "<!-- x -->",
    ]:
        with pytest.raises(AssertionError):
            panel_text(raw)
        with pytest.raises(AssertionError):
            markdown_text(raw)
    for raw in ["[x](http://evil.example)", "![x](/leak.png)", "<https://evil.example>", "<b>x</b>"]:
        with pytest.raises(AssertionError):
            markdown_text(raw)
    assert panel_text('<div class="rag-source"><p>&lt;b&gt;</p></div>') == "<b>"
    assert markdown_text("\\[x\\]\\(y\\) &lt;b&gt; *(Mô hình viết)*") == "[x](y) <b> (Mô hình viết)"


# --- 1. names of uploaded files ------------------------------------------------------------------------------------

NAMES = [
    pytest.param("../../../etc/passwd.txt", id="parent-folders"),
    pytest.param("../../../../../../climbed.txt", id="six-levels-up"),
    pytest.param("data/uploads/../../index/manifest.txt", id="into-the-index"),
    pytest.param("..\\..\\win.ini.txt", id="backslashes"),
    pytest.param("/etc/shadow.txt", id="absolute"),
    pytest.param("C:\\x\\a.txt", id="windows-drive"),
    pytest.param("\\\\server\\share\\z.txt", id="unc-share"),
    pytest.param("file:///etc/y.txt", id="file-url"),
    pytest.param("~/.ssh/authorized_keys.txt", id="home-tilde"),
    pytest.param("%2e%2e%2fa.txt", id="url-encoded"),
    pytest.param("..%2f..%2fb.txt", id="url-encoded-slashes"),
    pytest.param("%252e%252e%252fc.txt", id="double-url-encoded"),
    pytest.param("a.txt\x00.exe", id="nul-then-exe"),
    pytest.param("../b\x00/../c.txt", id="nul-in-a-folder"),
    pytest.param("‥／a.txt", id="two-dot-leader-fullwidth-solidus"),
    pytest.param("..／..／b.txt", id="fullwidth-solidus"),
    pytest.param("..∕..∕c.txt", id="division-slash"),
    pytest.param("..⁄..⁄d.txt", id="fraction-slash"),
    pytest.param("a" * 300 + ".txt", id="300-ascii-letters"),
    pytest.param("ệ" * 300 + ".txt", id="300-vietnamese-letters"),
    pytest.param(".", id="dot"),
    pytest.param("..", id="two-dots"),
    pytest.param("....", id="only-dots"),
    pytest.param("....txt", id="dots-then-txt"),
    pytest.param(".txt", id="only-an-extension"),
    pytest.param("a\n<script>alert(1)</script>.txt", id="newline-and-script"),
    pytest.param("xuống\ndòng\tvà\x07chuông.txt", id="control-characters"),
    pytest.param(".hidden.txt", id="hidden"),
    pytest.param("CON.txt", id="windows-device"),
    pytest.param("\u202egnp.txt", id="right-to-left-override"),
    pytest.param("x.txt/.", id="trailing-dot-folder"),
    pytest.param(" .. /x.md", id="spaced-dots"),
    pytest.param("$(touch pwned).txt", id="shell"),
]


UPLOADED = "Tài liệu tải lên\n\nTài liệu tải lên có nội dung riêng của nó."


def outside_files(root: Path, settings: Settings) -> set[str]:
    """Every path under `root` but the uploads folder (and its parents) and the index's own files."""
    uploads, home = settings.uploads_path, settings.home
    found = set()
    for path in root.rglob("*"):
        if path.is_relative_to(uploads) or uploads.is_relative_to(path):
            continue
        if path.is_relative_to(home) and path.relative_to(home).parts[0].startswith(("index", ".index-")):
            continue
        found.add(str(path.relative_to(root)))
    return found


def landing_spots(settings: Settings, name: str) -> set[Path]:
    """Where the name would land outside the uploads folder if it were used as sent: joined to it or to the root."""
    sent = name.replace("\\", "/").split("\x00")[0]
    spots = {Path(os.path.normpath(settings.uploads_path / sent)), Path(os.path.normpath("/" + sent))}
    spots.add(Path("/") / Path(sent).name.strip(" ."))
    return {spot for spot in spots if not spot.is_relative_to(settings.uploads_path)}


def assert_only_inside_uploads(settings: Settings) -> None:
    uploads = settings.uploads_path.resolve()
    for path in settings.uploads_path.iterdir() if settings.uploads_path.exists() else []:
        assert path.is_file() and not path.is_symlink(), path
        assert path.resolve().parent == uploads, path


@pytest.mark.parametrize("name", NAMES)
def test_an_upload_name_never_leaves_the_uploads_folder(
    name: str,
    parts: tuple[Pipeline, Library],
    settings: Settings,
    isolated: Path,
    tmp_path_factory: pytest.TempPathFactory,
    tally: Tally,
) -> None:
    _, library = parts
    source = tmp_path_factory.mktemp("incoming") / "upload"
    source.write_text(UPLOADED, encoding="utf-8")
    spots = {spot for spot in landing_spots(settings, name) if not os.path.lexists(spot)}  # none of them may appear
    before, documents = outside_files(isolated, settings), set(library.retriever.index.documents)

    try:
        result = library.add([(name, source)])
        assert not [spot for spot in spots if os.path.lexists(spot)]
    finally:  # the tests run as root: a regression must not leave its file in /etc
        for spot in spots:
            if os.path.isfile(spot) and spot.read_text(encoding="utf-8", errors="replace") == UPLOADED:
                spot.unlink()
    assert outside_files(isolated, settings) == before
    assert_only_inside_uploads(settings)
    kept = result.added + result.changed
    outcomes = [*kept, *result.refused, *result.skipped]
    assert len(outcomes) == 1, result  # indexed, refused or skipped: one answer for the one file
    if kept:
        stored = settings.home / kept[0]
        assert stored.resolve().parent == settings.uploads_path.resolve() and stored.is_file()
        assert stored.name == safe_name(name)
        assert "/" not in stored.name and "\\" not in stored.name and not stored.name.startswith(".")
        assert all(unicodedata.category(ch)[0] != "C" for ch in stored.name)  # no control, bidi or other format marks
        assert len(stored.name.encode()) <= 255
        assert set(library.retriever.index.documents) == documents | {kept[0]}  # searchable at once
    else:
        assert (result.refused or result.skipped)[0].reason, result  # a reason a person can read
        assert set(library.retriever.index.documents) == documents
        assert not settings.uploads_path.exists() or not list(settings.uploads_path.iterdir())
    tally.add("app hostile inputs tried")


ON_DISK = [  # names a browser's upload can carry and Linux can store (no "/" or NUL), handed over as files
    "..\\..\\win.ini.txt",
    "C:\\x\\a.txt",
    "\\\\server\\share\\z.txt",
    "%2e%2e%2fa.txt",
    "‥／a.txt",
    "..∕..∕c.txt",
    "<img src=x onerror=alert(1)>.txt",
    "a\n<script>alert(1)<\\script>.txt",
    ".hidden.txt",
    "CON.txt",
    "\u202egnp.txt",
    "ệ" * 80 + ".txt",
    "&lt;b&gt;.md",
    "virus.exe",
    "...txt",
    "$(touch pwned).txt",
    "<img src=x onerror=alert(1)>.exe",
    "<svg onload=alert(1)>",
    "xuống\ndòng\tvà\x07chuông.txt",
]


def test_the_upload_handler_stores_and_reports_hostile_file_names_inertly(
    handlers: Handlers, settings: Settings, isolated: Path, tmp_path_factory: pytest.TempPathFactory, tally: Tally
) -> None:
    for i, name in enumerate(ON_DISK):
        folder = tmp_path_factory.mktemp("gradio-cache")
        path = folder / name
        path.write_text(f"Tệp tải lên số {i}\n\nTệp tải lên số {i} chứa một câu.", encoding="utf-8")
        before = outside_files(isolated, settings)
        report = handlers.upload([str(path)])
        assert outside_files(isolated, settings) == before, name
        assert_only_inside_uploads(settings)
        for stored_path in settings.uploads_path.iterdir():
            assert all(unicodedata.category(ch)[0] != "C" for ch in stored_path.name), stored_path
            assert not stored_path.name.startswith("."), stored_path
        markdown_text(report)  # no tag, link or image from the name
        stored = safe_name(path.name)
        if (settings.uploads_path / stored).exists():
            assert f"- Đã thêm: {shown(stored)}\n" in report, (name, report)
        else:
            assert "- Bị từ chối: " in report or "- Bỏ qua: " in report, (name, report)
        assert not path.exists()  # Gradio's copy is gone either way
        tally.add("app hostile inputs tried")


def test_a_dangling_symlink_in_the_uploads_folder_is_replaced_not_followed(
    parts: tuple[Pipeline, Library], settings: Settings, isolated: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A link already in the folder (put there by anyone who can write to it) is a file name, never a way out."""
    _, library = parts
    settings.uploads_path.mkdir(parents=True)
    pointing = isolated / "outside.txt"
    (settings.uploads_path / "ghi-chu.txt").symlink_to(pointing)  # dangling: nothing there yet
    source = tmp_path_factory.mktemp("incoming") / "ghi-chu.txt"
    source.write_text("Ghi chú\n\nGhi chú có một câu.", encoding="utf-8")
    try:
        library.add([("ghi-chu.txt", source)])
        assert not pointing.exists(), "the upload was written through the link, outside the uploads folder"
        assert_only_inside_uploads(settings)
    finally:
        pointing.unlink(missing_ok=True)


def test_a_live_symlink_in_the_uploads_folder_is_replaced_and_its_target_untouched(
    parts: tuple[Pipeline, Library],
    settings: Settings,
    isolated: Path,
    tmp_path_factory: pytest.TempPathFactory,
    tally: Tally,
) -> None:
    _, library = parts
    settings.uploads_path.mkdir(parents=True)
    target = isolated / "bi-mat.txt"
    target.write_text("Bí mật\n\nNội dung bên ngoài thư mục tải lên.", encoding="utf-8")
    (settings.uploads_path / "ghi-chu.txt").symlink_to(target)
    source = tmp_path_factory.mktemp("incoming") / "ghi-chu.txt"
    source.write_text("Ghi chú\n\nGhi chú có một câu.", encoding="utf-8")
    result = library.add([("ghi-chu.txt", source)])
    assert result.added == ["data/uploads/ghi-chu.txt"]
    assert target.read_text(encoding="utf-8") == "Bí mật\n\nNội dung bên ngoài thư mục tải lên."
    assert_only_inside_uploads(settings)
    tally.add("app hostile inputs tried")


# --- 2. uploads over the size limit --------------------------------------------------------------------------------

SIZES = [
    pytest.param(LIMIT + 1, id="one-byte-over"),
    pytest.param(LIMIT * 3 // 2, id="half-again"),
    pytest.param(LIMIT * 10, id="ten-times"),
    pytest.param(1024 * 1024, id="one-megabyte"),
    pytest.param(2 * 1024**3, id="two-gigabytes-sparse"),
]


def oversized(path: Path, size: int) -> Path:
    """A text file of `size` bytes: written when small, sparse (no disk used) when big."""
    if size <= 1024 * 1024:
        line = "Tài liệu quá lớn. ".encode()
        path.write_bytes((line * (size // len(line) + 1))[:size])
    else:
        with path.open("wb") as file:
            file.truncate(size)
    return path


def assert_nothing_stored(settings: Settings, documents: set[str], live: Path, library: Library) -> None:
    assert not settings.uploads_path.exists() or not list(settings.uploads_path.iterdir())
    assert set(library.retriever.index.documents) == documents
    assert settings.index_path.resolve() == live  # the index was not even rewritten


@pytest.mark.parametrize("size", SIZES)
def test_an_upload_over_the_limit_is_refused_by_the_library(
    size: int,
    parts: tuple[Pipeline, Library],
    settings: Settings,
    tmp_path_factory: pytest.TempPathFactory,
    tally: Tally,
) -> None:
    _, library = parts
    documents, live = set(library.retriever.index.documents), settings.index_path.resolve()
    big = oversized(tmp_path_factory.mktemp("incoming") / "lon.txt", size)
    result = library.add([("lon.txt", big)])
    assert not result.added and not result.changed and not result.skipped
    [refused] = result.refused
    assert refused.path == "lon.txt"
    assert f"lớn hơn giới hạn {LIMIT_MB:g} MB (RAG_MAX_UPLOAD_MB)" in refused.reason
    assert_nothing_stored(settings, documents, live, library)
    tally.add("app hostile inputs tried")


@pytest.mark.parametrize("size", SIZES)
def test_an_upload_over_the_limit_is_refused_by_the_upload_handler(
    size: int,
    handlers: Handlers,
    parts: tuple[Pipeline, Library],
    settings: Settings,
    tmp_path_factory: pytest.TempPathFactory,
    tally: Tally,
) -> None:
    library = parts[1]
    documents, live = set(library.retriever.index.documents), settings.index_path.resolve()
    big = oversized(tmp_path_factory.mktemp("gradio-cache") / "lon.txt", size)
    report = handlers.upload([str(big)])
    text = plain(report)
    assert f"Bị từ chối: lon.txt — tệp {size / 1024 / 1024:.1f} MB lớn hơn giới hạn {LIMIT_MB:g} MB" in text
    assert "RAG_MAX_UPLOAD_MB" in text and "Đã thêm" not in text
    assert not big.exists()
    assert_nothing_stored(settings, documents, live, library)
    tally.add("app hostile inputs tried")


def test_a_batch_with_files_over_the_limit_keeps_only_the_small_one(
    handlers: Handlers, settings: Settings, tmp_path_factory: pytest.TempPathFactory, tally: Tally
) -> None:
    folder = tmp_path_factory.mktemp("gradio-cache")
    small = folder / "nho.txt"
    small.write_text("Hồ Tây\n\nHồ Tây rộng 500 hecta.", encoding="utf-8")
    at_limit = oversized(folder / "vua.txt", LIMIT)  # exactly the limit: accepted
    big = [oversized(tmp_path_factory.mktemp("gradio-cache") / "lon.txt", size) for size in (LIMIT + 1, 2 * 1024**3)]
    report = handlers.upload([str(small), str(at_limit), *map(str, big)])
    assert "Đã thêm: nho.txt" in report and "Đã thêm: vua.txt" in report
    assert report.count(f"lớn hơn giới hạn {LIMIT_MB:g} MB") == 2
    assert sorted(p.name for p in settings.uploads_path.iterdir()) == ["nho.txt", "vua.txt"]
    tally.add("app hostile inputs tried", 2)


# --- 3. markup and script in documents, questions and replies -------------------------------------------------------

PAYLOADS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<svg onload=alert(1)>",
    "[bấm vào đây](javascript:alert(document.cookie))",
    '<iframe src="javascript:alert(1)"></iframe>',
    '<a href="http://evil.example/lay?c=1">liên kết</a>',
    "&lt;script&gt;alert(1)&lt;/script&gt;",  # already escaped once: must be shown as typed, not unescaped
    "![ảnh](/leak.png)",
    "![ảnh](https://evil.example/leak.png?d=1)",
    "<style>body{display:none}</style>",
    '<div onmouseover="alert(1)">di chuột</div>',
    '"><script>alert(1)</script>',
    "</textarea><script>alert(1)</script>",
    "\\u003cscript\\u003ealert(1)\\u003c/script\\u003e",
    "＜script＞alert(1)＜/script＞",
    "<details open ontoggle=alert(1)>",
    '<a href="jav&#x09;ascript:alert(1)">x</a>',
    "[x](<javascript:alert(1)>)",
    "<https://evil.example/leak>",
    "--><script>alert(1)</script><!--",
    "<scr<script>ipt>alert(1)</script>",
    '<meta http-equiv="refresh" content="0;url=https://evil.example">',
    "`<b>`mã`</b>` *nghiêng* _gạch_ # tiêu đề",
]


def payload_corpus(folder: Path, payload: str) -> str:
    """The payload in a document's title, text and file name; the file's name."""
    name = payload.replace("/", "∕") + ".txt"
    city_docs(folder)
    (folder / name).write_text(f"Mẫu thử {payload}\n\nĐoạn kiểm tra chứa chuỗi {payload} ở giữa câu.", "utf-8")
    return name


def assert_chat_inert(steps: list[tuple[list[dict[str, Any]], str, str]]) -> None:
    for messages, box, panel in steps:
        assert box == ""
        panel_text(panel)
        for message in messages:
            markdown_text(message["content"])


@pytest.mark.parametrize("payload", PAYLOADS)
def test_markup_in_a_document_a_question_or_a_reply_is_shown_as_text(
    payload: str, isolated: Path, tally: Tally
) -> None:
    settings = Settings(home=isolated, index_dir=Path("index"), n_threads=1)
    name = payload_corpus(isolated / "docs", payload)
    pipeline, library = app_parts(settings, isolated / "docs", Echo("Đoạn kiểm tra"))
    question = f"Đoạn kiểm tra chứa chuỗi {payload} là gì?"

    steps = list(Handlers(pipeline, library).respond(question, [], 5))  # the payload in the document and question
    assert_chat_inert(steps)
    messages, _, panel = steps[-1]
    shown = panel_text(panel)
    assert payload in shown and name in shown, panel  # the document's text and file name, as text
    assert plain(messages[0]["content"]) == question == markdown_text(messages[0]["content"])
    assert payload in markdown_text(messages[-1]["content"])  # the answer quotes it, as text

    hostile = Pipeline(
        pipeline.retriever, FakeGenerator(f"Câu trả lời: {payload} [1]."), abstain_below=0.0, confidence=CHECKS_ONLY
    )
    later = list(Handlers(hostile, library).respond(question, messages, 5))  # a model writing it; history kept
    assert_chat_inert(later)
    assert any(payload in markdown_text(step[0][-1]["content"]) for step in later[1:-1])  # the draft, as text
    assert [m["content"] for m in later[-1][0][: len(messages)]] == [m["content"] for m in messages]

    history = [{"role": "user", "content": payload}, {"role": "assistant", "content": payload}]
    for asked in (question, payload):  # the API returns data: text as it is, not HTML
        data = Handlers(pipeline, library).ask(asked, history)
        data = json.loads(json.dumps(data))
        assert isinstance(data["answer"], str) and data["mode"] in ("generated", "extractive", "abstained")
        assert all(isinstance(c[key], str) for c in data["citations"] for key in ("doc", "title", "text"))
    cited = Handlers(pipeline, library).ask(question)["citations"]
    assert any(payload in c["text"] for c in cited) and cited[0]["doc"] == name
    tally.add("app hostile inputs tried", 5)  # in a document, a question, a reply; two API questions


# --- a live server: the upload route, the address it binds -------------------------------------------------------


@pytest.fixture(scope="module")
def open_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Handlers, Settings]]:
    """The app served as `rag serve` serves it by default (no login), with a 1 MB limit on uploads."""
    home = tmp_path_factory.mktemp("open")
    settings = Settings(home=home, index_dir=Path("index"), n_threads=1, max_upload_mb=1)
    pipeline, library = app_parts(settings, city_docs(home / "docs"), Echo("Thành phố"))
    app = build_app(pipeline, library)
    url = serve(app, port=free_port(), max_upload_mb=settings.max_upload_mb, block=False)
    try:
        yield url, Handlers(pipeline, library), settings
    finally:
        app.close()


def test_the_default_address_is_loopback_only(open_server: tuple[str, Handlers, Settings]) -> None:
    assert inspect.signature(serve).parameters["host"].default == "127.0.0.1"
    assert build_parser().parse_args(["serve"]).host == "127.0.0.1"
    url = open_server[0]
    assert url.startswith("http://127.0.0.1:")
    port = f"{int(url.rsplit(':', 1)[1].strip('/')):04X}"
    listening = set()  # the local address of each socket the kernel says listens on that port
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            if state == "0A" and local.endswith(f":{port}"):
                listening.add(local.rsplit(":", 1)[0])
    assert listening == {"0100007F"}  # 127.0.0.1, not 0.0.0.0 or ::


def post_upload(url: str, name: str, data: bytes) -> httpx.Response:
    """What a browser's file picker sends to Gradio's upload route, from the app's page (with the page's cookie)."""
    with httpx.Client(timeout=60) as page:
        page.get(url)
        return page.post(f"{url}gradio_api/upload", files={"files": (name, data, "text/plain")})


def test_the_upload_route_refuses_files_over_the_limit(
    open_server: tuple[str, Handlers, Settings], tally: Tally
) -> None:
    url, _, settings = open_server
    limit = int(settings.max_upload_mb * 1024 * 1024)
    for size in (limit + 1024, 3 * limit):
        got = post_upload(url, "lon.txt", b"x" * size)
        assert got.status_code == 413, (size, got.status_code, got.text[:200])
        tally.add("app hostile inputs tried")
    small = post_upload(url, "nho.txt", "Hồ Tây\n\nHồ Tây rộng 500 hecta.".encode())
    assert small.status_code == 200
    for path in small.json():  # Gradio's cache: the app would hand these to the upload handler
        Path(path).unlink()


def test_a_fractional_upload_limit_is_served(parts: tuple[Pipeline, Library]) -> None:
    """RAG_MAX_UPLOAD_MB is a float (0.5 is valid in Settings), and the HTTP route must enforce the same limit."""
    app = build_app(*parts)
    try:
        url = serve(app, port=free_port(), max_upload_mb=LIMIT_MB, block=False)
        assert post_upload(url, "lon.txt", b"x" * (LIMIT + 1024)).status_code == 413
    finally:
        app.close()


def test_the_upload_report_shows_markdown_in_a_file_name_as_text(open_server: tuple[str, Handlers, Settings]) -> None:
    """Gradio's upload route keeps [ ] ( ) _ in names, so a name can carry Markdown into the report."""
    url, handlers, _ = open_server
    names = ["[bấm vào đây](evil.example).txt", "_chú ý_.txt"]
    paths = [
        post_upload(url, name, f"Hồ số {i}\n\nHồ số {i} rộng 12 hecta.".encode()).json()[0]
        for i, name in enumerate(names)
    ]
    assert [Path(p).name for p in paths] == names  # as the browser sent them
    report = handlers.upload(paths)
    for name in names:
        handlers.remove(f"data/uploads/{name}")
    shown = markdown_text(report)
    assert all(f"Đã thêm: {name}" in shown for name in names), report


# --- 4. a login, when one is configured ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def locked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Path]]:
    """The app served with RAG_AUTH=an:bí-mật: its URL, its cookie id and a document's path."""
    home = tmp_path_factory.mktemp("locked")
    settings = Settings(home=home, index_dir=Path("index"), n_threads=1, max_upload_mb=1)
    docs = city_docs(home / "docs")
    app = build_app(*app_parts(settings, docs, Echo("Thành phố")))
    url = serve(app, port=free_port(), auth=":".join(LOGIN), block=False)
    try:
        yield url, app.app.cookie_id, docs / "hue.txt"
    finally:
        app.close()


def assert_refused(got: httpx.Response) -> None:
    assert got.status_code in (401, 403, 404), (got.request.method, got.request.url, got.status_code, got.text[:200])
    assert not any(secret in got.text for secret in SECRETS), (got.request.url, got.text[:500])


def test_every_route_refuses_a_visitor_without_login(locked: tuple[str, str, Path], tally: Tally) -> None:
    url, _, document = locked
    gets = [
        "/config",
        "/gradio_api/info",
        "/gradio_api/info/",
        "/gradio_api/openapi.json",
        "/gradio_api/login_check",
        f"/gradio_api/file={document}",
        "/gradio_api/file=/etc/passwd",
        f"/gradio_api/file/{document}",
        "/gradio_api/queue/data?session_hash=abc",
        "/gradio_api/call/ask/abc",
        "/gradio_api/deep_link",
        "/gradio_api/upload_progress?upload_id=x",
        "/gradio_api/proxy=http://127.0.0.1/",
        "/monitoring",
        "/gradio_api/../config",
    ]
    question = {"data": ["Thành phố Huế có bao nhiêu cây cầu?", []]}
    posts: list[tuple[str, dict[str, Any]]] = [
        ("/gradio_api/call/ask", {"json": question}),
        ("/gradio_api/call/search", {"json": {"data": ["cây cầu Huế", 3]}}),
        ("/gradio_api/call/documents", {"json": {"data": []}}),
        ("/gradio_api/call/v2/ask", {"json": question}),
        ("/gradio_api/run/ask", {"json": question}),
        ("/gradio_api/api/documents", {"json": {"data": []}}),
        ("/gradio_api/queue/join", {"json": {**question, "fn_index": 0, "session_hash": "abc"}}),
        ("/gradio_api/upload", {"files": {"files": ("a.txt", "Hồ Tây\n\nHồ Tây rộng.".encode(), "text/plain")}}),
    ]
    with httpx.Client(base_url=url.rstrip("/"), timeout=30, follow_redirects=True) as visitor:
        for path in gets:
            assert_refused(visitor.get(path))
        for path, body in posts:
            assert_refused(visitor.post(path, **body))
        page = visitor.get("/")  # the page itself is the login form: no component, no document
        assert page.status_code == 200 and '"auth_required":true' in page.text.replace(" ", "")
        assert not any(secret in page.text for secret in SECRETS)
    tally.add("app hostile inputs tried", len(gets) + len(posts) + 1)


WRONG = [
    ("an", "sai"),
    ("an", ""),
    ("", ""),
    ("", "bí-mật"),
    ("AN", "bí-mật"),
    ("an", "bí-mật "),
    ("an", "bí"),
    ("an:bí-mật", ""),
    ("bí-mật", "an"),
    ("an", "' OR '1'='1"),
    ("an", "bi-mat"),
]


def test_wrong_credentials_and_forged_cookies_open_nothing(locked: tuple[str, str, Path], tally: Tally) -> None:
    from gradio_client import Client

    url, cookie_id, _ = locked
    for user, password in WRONG:
        with httpx.Client(base_url=url.rstrip("/"), timeout=30) as visitor:
            login = visitor.post("/login", data={"username": user, "password": password})
            assert login.status_code in (400, 401, 422), (user, password, login.status_code)
            assert_refused(visitor.get("/gradio_api/info"))
            assert_refused(visitor.post("/gradio_api/call/documents", json={"data": []}))
        tally.add("app hostile inputs tried")
    forged = [
        {f"access-token-{cookie_id}": secrets.token_urlsafe(16)},
        {f"access-token-unsecure-{cookie_id}": secrets.token_urlsafe(16)},
        {f"access-token-{cookie_id}": ""},
        {"access-token": secrets.token_urlsafe(16)},
        {f"access-token-{secrets.token_urlsafe(8)}": secrets.token_urlsafe(16)},
    ]
    for cookies in forged:
        with httpx.Client(base_url=url.rstrip("/"), cookies=cookies, timeout=30) as visitor:
            assert_refused(visitor.get("/gradio_api/info"))
            assert_refused(visitor.post("/gradio_api/call/ask", json={"data": ["Huế", []]}))
        tally.add("app hostile inputs tried")
    for headers in ({"Authorization": "Basic YW46c2Fp"}, {"X-Forwarded-User": "an"}, {"x-gradio-user": "mcp"}):
        assert_refused(httpx.get(f"{url}gradio_api/info", headers=headers))
        tally.add("app hostile inputs tried")
    with pytest.raises(Exception):  # noqa: B017 - gradio_client raises a plain error for a refused login
        Client(url, verbose=False, auth=("an", "sai"))
    tally.add("app hostile inputs tried")


def test_the_mcp_routes_refuse_a_visitor_without_login(locked: tuple[str, str, Path], tally: Tally) -> None:
    """With a login configured there is no MCP server (Gradio's cannot pass the login on): nothing answers."""
    url = locked[0]
    assert_refused(httpx.get(f"{url}gradio_api/mcp/schema"))
    client = {"name": "t", "version": "1"}
    hello = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-03-26", "capabilities": {}, "clientInfo": client},
    }
    stream = {"Accept": "application/json, text/event-stream"}
    assert_refused(httpx.post(f"{url}gradio_api/mcp/", json=hello, headers=stream))
    with httpx.stream("GET", f"{url}gradio_api/mcp/sse", timeout=10) as events:
        assert events.status_code in (401, 403, 404)
    tally.add("app hostile inputs tried", 3)


def test_one_correct_login_opens_the_app(locked: tuple[str, str, Path]) -> None:
    from gradio_client import Client

    url = locked[0]
    answer = Client(url, verbose=False, auth=LOGIN).predict("Thành phố Huế có bao nhiêu cây cầu?", [], api_name="/ask")
    assert "11 cây cầu" in answer["answer"] and answer["mode"] == "generated"
    with httpx.Client(base_url=url.rstrip("/"), timeout=30) as session:
        session.post("/login", data={"username": LOGIN[0], "password": LOGIN[1]}).raise_for_status()
        assert session.get("/gradio_api/info").status_code == 200
        assert "hue.txt" in session.get("/config").text  # the documents table, now that it may be shown

"""The app for real: `rag serve` on a free 127.0.0.1 port with the default models over an index of seeds/,
called through gradio_client, the MCP client, eight clients at once, and headless chromium (screenshot kept)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from conftest import chromium_page, installed_model, mcp_session, rag_serve, real_env

from rag.config import CHECKOUT, Settings

pytestmark = pytest.mark.real

SCREENSHOTS = CHECKOUT / "tests" / "screenshots"  # git-ignored
# (question, an acceptable answer, the gold document's name prefix), answered right in the evaluation
KNOWN = [
    ("Trong năm 2020, Ủy ban Thường vụ Quốc hội đã ban hành bao nhiêu nghị quyết?", "260", "003"),
    ("Hội nghị Nghị sĩ trẻ toàn cầu do Quốc hội Việt Nam đăng cai diễn ra ở đâu?", "Hà Nội", "001"),
]
EIGHT = [q for q, _, _ in KNOWN] + [
    "Trong tháng 8/2023, Văn phòng Quốc hội đã tiếp nhận và xử lý bao nhiêu đơn, thư?",
    "Ai chủ trì cuộc họp giao ban giữa Lãnh đạo Văn phòng Quốc hội với lãnh đạo các vụ, cục, đơn vị sáng 7/9?",
    "Năm 2021, Văn phòng Quốc hội tập trung triển khai bao nhiêu nhóm nhiệm vụ trọng tâm?",
    "Chủ tịch Quốc hội Vương Đình Huệ làm việc với Văn phòng Quốc hội vào ngày nào?",
    "Văn phòng Quốc hội có chức năng gì?",
    "Ai phát biểu kết luận cuộc họp bàn về nhiệm vụ của Văn phòng Quốc hội từ nay đến hết năm 2021?",
]


@pytest.fixture(scope="module")
def server(real_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    installed_model(real_settings, "llm")  # fails saying what to install
    home = tmp_path_factory.mktemp("app")
    env = real_env(real_settings, home)
    index = [sys.executable, "-m", "rag", "index", str(CHECKOUT / "seeds")]
    subprocess.run(index, env=env, check=True, capture_output=True, timeout=600)
    with rag_serve(env, home) as url:
        yield url


def client(url: str) -> Any:
    from gradio_client import Client

    return Client(url, verbose=False)


def test_ask_through_gradio_client_gives_the_known_answer_with_its_citation(server: str) -> None:
    question, gold, doc = KNOWN[0]
    data = client(server).predict(question, [], api_name="/ask")
    assert gold in data["answer"], data
    assert data["mode"] in ("generated", "extractive") and data["citations"]
    assert all(c["doc"].startswith(doc) for c in data["citations"])


def test_eight_clients_at_once_each_get_the_answer_to_their_own_question(server: str) -> None:
    solo = {q: {h["id"] for h in client(server).predict(q, 5, api_name="/search")} for q in EIGHT}

    def ask(question: str) -> dict[str, Any]:
        return client(server).predict(question, [], api_name="/ask")  # type: ignore[no-any-return]

    with ThreadPoolExecutor(8) as pool:
        answers = dict(zip(EIGHT, pool.map(ask, EIGHT), strict=True))
    for question, data in answers.items():
        cited = {c["chunk_id"] for c in data["citations"]}
        assert cited <= solo[question], (question, data)  # only passages retrieved for its own question
        assert data["mode"] == "abstained" or cited, (question, data)
    for question, gold, _ in KNOWN:
        assert gold in answers[question]["answer"], answers[question]


def test_openai_clients_and_the_api_at_once_share_the_one_model(server: str) -> None:
    """The OpenAI-compatible endpoint as `rag serve` wires it: a whole and a streamed reply through the `openai`
    client while `/ask` answers too; each is the known answer, with its source named in the text."""
    import openai

    def through_openai(question: str, stream: bool) -> str:
        client = openai.OpenAI(base_url=f"{server}v1", api_key="none", timeout=600, max_retries=0)
        messages: Any = [{"role": "user", "content": question}]
        if not stream:
            return client.chat.completions.create(model="rag-vi", messages=messages).choices[0].message.content or ""
        chunks = client.chat.completions.create(model="rag-vi", messages=messages, stream=True)
        return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)

    (first, gold, doc), (second, gold2, doc2) = KNOWN
    with ThreadPoolExecutor(3) as pool:
        whole = pool.submit(through_openai, first, False)
        streamed = pool.submit(through_openai, second, True)
        asked = pool.submit(lambda: client(server).predict(first, [], api_name="/ask"))
        replies = [(whole.result(), gold, doc), (streamed.result(), gold2, doc2)]
        assert gold in asked.result()["answer"]
    for content, expected, source in replies:
        answer, _, sources = content.partition("Nguồn:\n")
        assert expected in answer, content
        assert sources.startswith("- [1] ") and f"— {source}" in sources, content


def test_the_mcp_tools_through_the_mcp_client(server: str) -> None:
    calls = [("search", {"query": "công văn đến tháng 8/2023", "k": 2}), ("ask", {"question": KNOWN[1][0]})]
    tools, (found, asked) = mcp_session(f"{server}gradio_api/mcp/", calls)
    assert {"ask", "search", "documents"} <= tools
    assert "001_116d121d92112e0c.txt" in found
    assert "Hà Nội" in asked and "001_116d121d92112e0c.txt" in asked


@pytest.mark.browser
def test_a_person_asks_in_the_browser_and_sees_the_answer_and_its_sources(server: str) -> None:
    question, gold, doc = KNOWN[1]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with chromium_page() as page:
        page.goto(server)
        page.fill("#question textarea", question)
        page.click("#send")
        page.wait_for_selector("#sources .rag-mode", timeout=120_000)
        chat, sources = page.inner_text("#chat"), page.inner_text("#sources")
        page.screenshot(path=str(SCREENSHOTS / "chat.png"), full_page=True)
    assert gold in chat and "[1]" in chat
    assert "[1]" in sources and f"{doc}_" in sources
    assert any(label in sources for label in ("Mô hình viết", "Trích nguyên văn"))

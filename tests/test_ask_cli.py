"""`rag ask` as scripts see it: bad input and missing pieces give one line and an exit code; `--jsonl` keeps going."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ANSWER_CITATION_FIELDS, ANSWER_FIELDS
from test_answers import QUESTION, pipeline, retriever  # noqa: F401  (the module fixture is shared)

from rag.cli import main
from rag.config import CHECKOUT
from rag.jsonl import ask_lines
from rag.payloads import answer_json
from rag.pipeline import Event
from rag.retrieve import Retriever


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_an_empty_question_is_a_clear_error(isolated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["ask", "   "], capsys)
    assert code == 2 and out == "" and "question is empty" in err and "Traceback" not in err


def test_a_missing_model_names_the_install_command(
    isolated: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RAG_MANIFEST", str(CHECKOUT / "models" / "manifest.toml"))
    code, _, err = run(["ask", "Văn phòng Quốc hội là cơ quan gì?"], capsys)
    assert code == 1 and "rag models install" in err and "Traceback" not in err


def test_a_missing_index_names_the_index_command(
    isolated: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (isolated / "model.gguf").write_bytes(b"GGUF" + bytes(60))
    (isolated / "embedder").mkdir()
    (isolated / "embedder" / "modules.json").write_text("[]")
    monkeypatch.setenv("RAG_MANIFEST", str(CHECKOUT / "models" / "manifest.toml"))
    monkeypatch.setenv("RAG_LLM_PATH", str(isolated / "model.gguf"))
    monkeypatch.setenv("RAG_EMBEDDER_PATH", str(isolated / "embedder"))
    code, _, err = run(["ask", "Văn phòng Quốc hội là cơ quan gì?"], capsys)
    assert code == 1 and "rag index" in err and "Traceback" not in err


def test_jsonl_answers_every_line_and_reports_bad_ones(
    retriever: Retriever,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    p, gen = pipeline(retriever, "Văn phòng Quốc hội đã tiếp nhận 30.087 công văn đến [1].")
    lines = [
        json.dumps({"id": "a", "question": QUESTION}, ensure_ascii=False),
        "{not json",
        json.dumps({"id": 7, "question": " "}),
        "",
        json.dumps(
            {
                "id": "b",
                "question": "Còn công văn đi thì sao?",
                "history": [{"role": "user", "content": QUESTION}, {"role": "assistant", "content": "30.087"}],
            },
            ensure_ascii=False,
        ),
        json.dumps({"id": "c", "question": "x", "history": [{"role": "robot", "content": "?"}]}),
    ]
    ask_lines(p, io.BytesIO(("\n".join(lines) + "\n").encode() + b'{"id": "d", "question": "\xff"}\n'))
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["id"] for r in rows] == ["a", None, 7, "b", "c", None]
    good = rows[0]
    assert set(good) == ANSWER_FIELDS
    assert good["mode"] == "generated" and "30.087" in good["answer"]
    assert set(good["citations"][0]) == ANSWER_CITATION_FIELDS and good["citations"][0]["doc"] == "cong-van.txt"
    assert set(good["timings"]) == {"retrieval_ms", "first_token_ms", "total_ms"}
    assert rows[1]["line"] == 2 and "not a question object" in rows[1]["error"]
    assert "empty" in rows[2]["error"]
    assert rows[3]["mode"] == "generated"
    assert "Câu hỏi trước đó" in gen.calls[-1][1].content  # the history reached the pipeline
    assert rows[4]["line"] == 6 and "history" in rows[4]["error"]
    assert rows[5] == {"id": None, "line": 7, "error": "the line is not UTF-8 text"}


def test_json_form_of_an_abstention(retriever: Retriever) -> None:  # noqa: F811
    p, _ = pipeline(retriever, "Tài liệu không có thông tin để trả lời câu hỏi này.")
    row = answer_json(p.ask(QUESTION), "q1")
    assert row["mode"] == "abstained" and row["citations"] == [] and row["id"] == "q1"


def test_rag_ask_prints_the_quote_at_once_then_the_model_s_words_then_the_sources(
    retriever: Retriever,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    from rag.console import print_answer

    p, gen = pipeline(retriever, "Văn phòng Quốc hội đã tiếp nhận 30.087 công văn đến [1].")
    seen: list[str] = []

    def watched() -> Iterator[Event]:
        for event in p.stream(QUESTION):
            seen.append(capsys.readouterr().out)  # what was on screen when each event came
            yield event

    print_answer(watched())
    out = capsys.readouterr().out
    assert seen[0] == "" and seen[1].startswith("[Bản nháp: trích nguyên văn] ") and "30.087" in seen[1]
    assert len(gen.calls) == 1 and "Nguồn:" in out and "cong-van.txt" in out
    assert "Văn phòng Quốc hội đã tiếp nhận 30.087 công văn đến [1]." in "".join(seen[2:]) + out

"""The scorer's parts without the real models: the XQuAD-vi adapter, retrieval baselines, report and charts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import FakeEmbedder

from eval import baselines
from eval import table as reference
from eval.metrics import Row
from eval.score import Question, breakdown, draw, main, read_xquad, report, summarise
from rag import indexing, store
from rag.config import Settings
from rag.errors import ConfigError
from rag.payloads import TurnIn
from rag.types import Timings

DOCS = {
    "thu-vien.txt": "Thư viện Quốc hội\n\nNăm 2020, Thư viện Quốc hội bổ sung 1.200 đầu sách mới cho bạn đọc.",
    "hoi-nghi.txt": "Hội nghị năm trước\n\nNăm trước, hội nghị năm trước được tổ chức trực tuyến; năm trước rất bận.",
    "cong-van.txt": "Công văn tháng 8\n\nTrong tháng 8/2023, Văn phòng Quốc hội tiếp nhận 30.087 công văn đến.",
}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[store.Index, FakeEmbedder]:
    home = tmp_path_factory.mktemp("baselines")
    for name, text in DOCS.items():
        (home / name).write_text(text, encoding="utf-8")
    embedder = FakeEmbedder()
    settings = Settings(home=home, index_dir=Path("index"), n_threads=1)
    indexing.update([home], embedder, settings)
    return store.load(settings.index_path), embedder


def test_retrieval_baselines_rank_gold_documents_and_rewrite_follow_ups(built: tuple[Any, FakeEmbedder]) -> None:
    index, embedder = built
    asked = "Thư viện Quốc hội bổ sung bao nhiêu đầu sách mới?"
    history = [TurnIn(role="user", content=asked), TurnIn(role="assistant", content="1.200")]
    follow_up = Question(id="f", question="Còn năm trước thì sao?", sources=["thu-vien.txt"], history=history)
    questions = [
        Question(id="a", question="Tháng 8/2023 tiếp nhận bao nhiêu công văn đến?", sources=["cong-van.txt"]),
        follow_up,
        Question(id="u", question="Ngân sách năm 2021 là bao nhiêu?", answerable=False),
    ]
    results = baselines.retrieval(index, embedder, questions)
    assert set(results) == {"dense", "bm25", "hybrid 50/50", "rrf"}
    for r in results.values():  # the unanswerable question is not counted; both others are found first
        assert r == {"questions": 2.0, "recall@1": 1.0, "recall@5": 1.0, "mrr": 1.0}
    # as asked, the follow-up would find the other document first: the rewrite is what finds it
    alone = follow_up.model_copy(update={"history": []})
    assert baselines.retrieval(index, embedder, [alone])["bm25"]["recall@1"] == 0.0
    assert baselines.steps(questions) == 8


def test_xquad_questions_are_read_with_their_paragraph_as_the_gold_document(tmp_path: Path) -> None:
    row = {"id": 7, "question": "Ai?", "answers": ["Merit"], "source": "a.txt", "source_context": "a_02.txt"}
    (tmp_path / "questions.jsonl").write_text(json.dumps(row) + "\n", encoding="utf-8")
    (q,) = read_xquad(tmp_path)
    assert (q.id, q.answers, q.sources, q.answerable, q.type) == ("7", ["Merit"], ["a_02.txt"], True, "xquad")
    with pytest.raises(ConfigError, match="--xquad takes the xquad_vi folder"):
        read_xquad(tmp_path / "missing")


def test_distractors_are_an_xquad_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--distractors", "10"])
    assert exc.value.code == 2 and "--distractors needs --xquad" in capsys.readouterr().err


def row(qid: str, kind: str, mode: str, correct: bool, answerable: bool = True, first: float = 900) -> Row:
    tokens = 300 if mode != "abstained" else 0
    timings = Timings(
        retrieval_ms=20,
        first_token_ms=first,
        total_ms=first + 500,
        prompt_ms=first - 50,
        generate_ms=400,
        prompt_tokens=tokens,
        generated_tokens=20,
    )
    return Row(
        id=qid,
        type=kind,
        answerable=answerable,
        question="?",
        answer="",
        mode=mode,
        correct=correct,
        f1=0.5 if answerable else None,
        citations=[],
        cited_gold=[True] if mode != "abstained" else [],
        gold_cited=[True],
        unsupported=[],
        gold_rank=1,
        reply="",
        why="",
        timings=timings,
        contained=correct,
        words=0 if mode == "abstained" else 12,
        confidence=0.9 if correct else 0.3,
        reason=mode,
        candidates=[],
    )


def test_the_report_sets_the_baselines_beside_the_run_and_the_charts_are_drawn(tmp_path: Path) -> None:
    rows = [
        row("1", "fact", "generated", True),
        row("2", "fact", "extractive", False, first=1500),
        row("3", "unanswerable", "abstained", True, answerable=False),
    ]
    quoted = [
        row("1", "fact", "extractive", True, first=30),
        row("2", "fact", "extractive", True, first=30),
        row("3", "unanswerable", "extractive", False, answerable=False, first=30),
    ]
    by = {"type": breakdown(rows, "type"), "mode": breakdown(rows, "mode")}
    retrieval = {c: {"questions": 2.0, "recall@1": 0.5, "recall@5": 1.0, "mrr": 0.75} for c in ("dense", "bm25")}
    base = {
        "extractive": {"summary": summarise(quoted), "by": {"type": breakdown(quoted, "type")}},
        "retrieval": retrieval,
    }
    text = report("run", {"model": "fake"}, summarise(rows), by, base)
    assert "| accuracy | 0.500 | 1.000 |" in text  # this run 1 of 2 answerable, extractive 2 of 2
    assert "| abstention_recall | 1.000 | 0.000 |" in text
    assert "| bm25 | 0.500 | 1.000 | 0.750 |" in text and "(2 answerable questions of the file)" in text
    draw(tmp_path, rows, by, base)
    for name in ("accuracy_by_type.png", "latency.png", "retrieval.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    no_baselines = tmp_path / "plain"
    no_baselines.mkdir()
    draw(no_baselines, rows, by, {})
    assert sorted(p.name for p in no_baselines.iterdir()) == [
        "accuracy_by_type.png",
        "calibration.png",
        "latency.png",
        "risk_coverage.png",
    ]
    assert "Baseline" not in report("run", {}, summarise(rows), by, {})


def test_the_reference_table_sets_runs_side_by_side(tmp_path: Path) -> None:
    rows = [row("1", "fact", "generated", True), row("2", "fact", "extractive", False)]
    retrieval = {"dense": {"questions": 2.0, "recall@1": 0.5, "recall@5": 1.0, "mrr": 0.75}}
    for name, model in (("small", "0.5b"), ("large", "1.5b")):
        folder = tmp_path / name
        folder.mkdir()
        meta = {"questions file": "/x/seeds_qa.jsonl", "model": model, "style": "auto"}
        result = {"meta": meta, "summary": summarise(rows), "by": {}, "baselines": {"retrieval": retrieval}}
        (folder / "summary.json").write_text(json.dumps(result), encoding="utf-8")
    assert reference.main(["small", "large", "--results", str(tmp_path)]) == 0
    text = (tmp_path / "REFERENCE.md").read_text(encoding="utf-8")
    assert (
        "| model, style | 0.5b, auto | 1.5b, auto |" in text
        and "| answer accuracy (gold in ≤ 40 words) | 0.500 | 0.500 |" in text
    )
    assert text.count("| dense | 0.500 | 1.000 | 0.750 |") == 1  # one retrieval table per question file
    assert set(json.loads((tmp_path / "reference.json").read_text())) == {"small", "large"}
    assert reference.main(["missing", "--results", str(tmp_path)]) == 2  # a clear error, not a traceback

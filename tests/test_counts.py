"""`python -m eval.counts`: the count-question abstention measured on answerable questions with their gold paragraph."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.counts import main


def test_it_reports_the_count_questions_it_would_decline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "corpus_contexts").mkdir()
    (tmp_path / "corpus_contexts" / "p1.txt").write_text("Đội ghi được 11 điểm và có 6 giải Grammy.", encoding="utf-8")
    questions = [
        {"question": "Đội ghi được bao nhiêu điểm?", "answers": ["11"], "source_context": "p1.txt"},
        {"question": "Đội có bao nhiêu cầu thủ?", "answers": ["?"], "source_context": "p1.txt"},
        {"question": "Đội chơi ở đâu?", "answers": ["?"], "source_context": "p1.txt"},
    ]
    lines = "\n".join(json.dumps(q, ensure_ascii=False) for q in questions)
    (tmp_path / "questions.jsonl").write_text(lines + "\n", encoding="utf-8")
    assert main(["--data", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "Đội có bao nhiêu cầu thủ?" in out and "uncounted: cầu" in out
    assert out.strip().endswith("1 of 2 count questions declined with their gold paragraph (50.0%)")

"""Question files: the seeds set's JSONL (eval/README.md) and XQuAD-vi's, read into `Question`s.

This module reads; it does not answer or score.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ValidationError

from rag.errors import ConfigError
from rag.payloads import TurnIn


class Question(BaseModel):
    """One line of a question file (eval/README.md)."""

    id: str
    question: str
    history: list[TurnIn] = []
    answers: list[str] = []
    answers_all: list[str] = []
    sources: list[str] = []
    answerable: bool = True
    type: str = "fact"


def read_questions(path: Path) -> list[Question]:
    questions = []
    for number, line in enumerate(path.read_text(encoding="utf-8").split("\n"), 1):
        if line.strip():
            try:
                questions.append(Question.model_validate_json(line))
            except ValidationError as exc:
                raise ConfigError(f"{path}:{number} is not a question object: {exc.errors()[0]['msg']}") from None
    return questions


def read_xquad(folder: Path) -> list[Question]:
    """XQuAD-vi's questions (`questions.jsonl` of `../shared/data/xquad_vi`) as question objects.

    The gold document is the question's paragraph file (`source_context`), the gold answer its one answer.
    """
    path = folder / "questions.jsonl"
    if not path.is_file():
        raise ConfigError(f"{path} does not exist; --xquad takes the xquad_vi folder (../shared/data/xquad_vi).")
    questions = []
    for line in path.read_text(encoding="utf-8").split("\n"):
        if line.strip():
            row = json.loads(line)
            questions.append(
                Question(
                    id=str(row["id"]),
                    question=row["question"],
                    answers=row["answers"],
                    sources=[row["source_context"]],
                    type="xquad",
                )
            )
    return questions

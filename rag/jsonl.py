"""`rag ask --jsonl`: one question object a line in, one answer object a line out, the models loaded once.

A line that is not UTF-8, not JSON, or not a question object gets an `error` line (with its
`id` when it has one, and its line number) and the lines after it are still answered; so does
a question that cannot be answered (empty, or the language model server gone). The answer
objects are `rag.payloads.answer_json`'s form.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from typing import IO, Any

from pydantic import BaseModel, ConfigDict, ValidationError

from rag.errors import RagError
from rag.payloads import TurnIn, answer_json
from rag.pipeline import Pipeline


class AskLine(BaseModel):
    """One line of `rag ask --jsonl` input."""

    model_config = ConfigDict(extra="ignore")
    id: str | int | None = None
    question: str
    history: list[TurnIn] = []


def ask_lines(pipeline: Pipeline, lines: Iterable[bytes], sink: IO[str] | None = None) -> None:
    """An answer (or error) line in `sink` (standard output) for every non-blank line of `lines`, flushed as
    each is done."""
    sink = sink or sys.stdout
    for number, raw in enumerate(lines, 1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            row: dict[str, Any] = {"id": None, "line": number, "error": "the line is not UTF-8 text"}
        else:
            if not line.strip():
                continue
            row = ask_line(pipeline, line, number)
        sink.write(json.dumps(row, ensure_ascii=False) + "\n")
        sink.flush()


def ask_line(pipeline: Pipeline, line: str, number: int) -> dict[str, Any]:
    try:
        item = AskLine.model_validate_json(line)
    except ValidationError as exc:
        problem = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'line'}: {e['msg']}" for e in exc.errors())
        return {"id": line_id(line), "line": number, "error": f"not a question object ({problem})"}
    try:
        return answer_json(pipeline.ask(item.question, [t.turn() for t in item.history]), item.id)
    except RagError as exc:  # an empty question, a language model server gone: this line only
        return {"id": item.id, "line": number, "error": str(exc)}


def line_id(line: str) -> Any:
    """The `id` of a line that is JSON but not a valid question object, so a script can match the error."""
    try:
        data = json.loads(line)
    except ValueError:
        return None
    return data.get("id") if isinstance(data, dict) and isinstance(data.get("id"), str | int) else None

"""The JSON forms that cross the process's edge: out, `rag ask --json`, `rag search --json`, the HTTP API and
the MCP tools; in, a conversation's history as every front end receives it.

One place, so the command line and the app can never disagree on a field. What goes out is
plain dicts of JSON types, built from the frozen dataclasses. What comes in is validated by
pydantic (`TurnIn`, `read_history`) into `Turn`s; nothing past this module sees a raw dict.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError, field_validator

from rag.errors import InputError
from rag.retrieve import Hit
from rag.types import Answer, Document, Role, Turn


class TextPart(BaseModel):
    """One part of a message's content, as Gradio's chat hands it back: {"type": "text", "text": …}."""

    model_config = ConfigDict(extra="ignore")
    text: str = ""


class TurnIn(BaseModel):
    """One earlier turn as sent: {"role": "user"|"assistant", "content": text, or a list of text parts}."""

    model_config = ConfigDict(extra="ignore")
    role: Role
    content: str | TextPart | list[str | TextPart]

    def turn(self) -> Turn:
        content = self.content
        if isinstance(content, str):
            return Turn(self.role, content)
        parts = content if isinstance(content, list) else [content]
        return Turn(self.role, " ".join(p if isinstance(p, str) else p.text for p in parts))


HISTORY = TypeAdapter(list[TurnIn])


def _unicode(value: str) -> str:
    """Text that can be written as UTF-8 (JSON lets a caller send a lone surrogate, which is no character)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"not valid Unicode text (a lone surrogate at character {exc.start})") from None
    return value


class AskIn(BaseModel):
    """The arguments of `/ask` (and the MCP tool `ask`), checked before any work."""

    model_config = ConfigDict(strict=True, extra="forbid")
    question: str
    history: list[TurnIn] | None = None

    @field_validator("question")
    @classmethod
    def _text(cls, value: str) -> str:
        return _unicode(value)

    @field_validator("history")
    @classmethod
    def _turns(cls, value: list[TurnIn] | None) -> list[TurnIn] | None:
        for turn in value or []:
            _unicode(turn.turn().content)
        return value


class SearchIn(BaseModel):
    """The arguments of `/search` (and the MCP tool `search`)."""

    model_config = ConfigDict(strict=True, extra="forbid")
    query: str
    k: int = 5

    @field_validator("query")
    @classmethod
    def _text(cls, value: str) -> str:
        return _unicode(value)

    @field_validator("k")
    @classmethod
    def _count(cls, value: int) -> int:
        if not 1 <= value <= 50:
            raise ValueError("must be a whole number between 1 and 50")
        return value


def checked(model: type[BaseModel], **values: Any) -> Any:
    """`values` validated as `model`, or an `InputError` naming each argument that is wrong, in a short message
    that does not depend on Python's internals ("k: must be a whole number between 1 and 50").

    >>> checked(SearchIn, query=123, k=5)
    Traceback (most recent call last):
    ...
    rag.errors.InputError: query: Input should be a valid string
    """
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise InputError("; ".join(dict.fromkeys(f"{where}: {why}" for where, why in problems(exc)))) from None


def problems(exc: ValidationError, whole: str = "arguments") -> list[tuple[str, str]]:
    """(where, what is wrong) for each error pydantic found, in words that do not depend on its internals; `whole`
    names a problem of the input as a whole."""
    return [
        (".".join(str(part) for part in e["loc"]) or whole, str(e["msg"]).removeprefix("Value error, "))
        for e in exc.errors(include_url=False)
    ]


def read_history(raw: object) -> list[Turn]:
    """A history as sent (a list of {role, content}, oldest first; None is none) as `Turn`s; a pydantic
    `ValidationError` names what is wrong.

    >>> read_history([{"role": "user", "content": [{"type": "text", "text": "Có bao nhiêu?"}]}])
    [Turn(role='user', content='Có bao nhiêu?')]
    """
    return [t.turn() for t in HISTORY.validate_python(raw or [])]


def answer_json(answer: Answer, id: str | int | None = None) -> dict[str, Any]:
    """The stable machine-readable form of an answer (README, "rag ask --json")."""
    t = answer.timings
    return {
        "id": id,
        "answer": answer.text,
        "mode": answer.mode,
        "citations": [
            {
                "n": c.n,
                "doc": c.doc,
                "title": c.title,
                "chunk_id": c.chunk_id,
                "text": c.text,
                "start": c.start,
                "end": c.end,
            }
            for c in answer.citations
        ],
        "timings": {
            "retrieval_ms": round(t.retrieval_ms, 1),
            "first_token_ms": round(t.first_token_ms, 1),
            "total_ms": round(t.total_ms, 1),
        },
        "question_cut": answer.question_cut,
        "notice": answer.notice,
        "confidence": round(answer.confidence, 3),
        "reason": {"code": answer.reason.code, "text": answer.reason.text},
    }


def hits_json(hits: list[Hit]) -> list[dict[str, Any]]:
    """Ranked passages: rank, fused score, dense cosine, BM25 score and the chunk's fields."""
    return [
        {"rank": rank, "score": h.score, "dense": h.dense, "lexical": h.lexical, **asdict(h.chunk)}
        for rank, h in enumerate(hits, 1)
    ]


def documents_json(documents: Sequence[tuple[Document, int]]) -> list[dict[str, Any]]:
    """The indexed documents, by id: title (and whether it was derived from the text), date, source, how many
    chunks each has, the pages read by OCR and the legacy encoding its text was converted from."""
    return [
        {
            "id": d.id,
            "title": d.title,
            "title_derived": d.title_derived,
            "date": d.date,
            "source": d.source,
            "chunks": chunks,
            "ocr_pages": d.ocr_pages,
            "converted_from": d.encoding,
        }
        for d, chunks in sorted(documents, key=lambda dc: dc[0].id)
    ]

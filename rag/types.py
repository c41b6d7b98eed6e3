"""Values that cross module boundaries: frozen dataclasses, never dicts with magic keys."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, NamedTuple

TextKind = Literal["query", "passage"]  # what an embedder is given: a question or a passage of a document
Role = Literal["user", "assistant"]
Mode = Literal["generated", "extractive", "abstained"]


class Turn(NamedTuple):
    """One earlier turn of a conversation, oldest first in a history: who spoke, and what they said."""

    role: Role
    content: str


@dataclass(frozen=True)
class Document:
    """A cleaned document: its text is what chunks' character spans point into."""

    id: str  # stable identity: the path, relative to the home folder when inside it
    path: str  # where it was read from
    title: str
    date: str | None  # ISO 8601 (YYYY-MM-DD) when the document states a full date
    source: str | None  # attribution kept as metadata: "Nguồn …", "Theo: …"
    text: str  # cleaned, normalised; paragraphs separated by line breaks
    content_hash: str  # sha256 of the file's bytes: what incremental indexing compares


@dataclass(frozen=True)
class Skipped:
    """A file that was not ingested, and why (unsupported type, unreadable, empty), in English (the command line)
    and in Vietnamese (the app)."""

    path: str
    reason: str
    vi: str = field(default="", compare=False)  # the reason in Vietnamese (the app shows `reason` when "")


@dataclass(frozen=True)
class Chunk:
    """A passage of a document, as indexed and cited."""

    id: str
    doc_id: str
    title: str
    date: str | None
    start: int  # character span in the document's cleaned text
    end: int
    text: str


@dataclass(frozen=True)
class Citation:
    """A passage an answer cites: `n` is its number in the answer's text ("[2]")."""

    n: int
    doc: str  # the document's file name
    doc_id: str
    title: str
    date: str | None
    chunk_id: str
    text: str  # the cited sentence(s), as in the document; "…" marks sentences left out between them
    start: int  # the character span in the document's cleaned text from the first cited sentence to the last
    end: int


@dataclass(frozen=True)
class Timings:
    """Milliseconds from the question's arrival; `prompt_ms`/`generate_ms` are llama.cpp's own counters."""

    retrieval_ms: float  # question rewrite, retrieval and evidence selection
    first_token_ms: float  # until the first piece of the answer could be shown
    total_ms: float
    prompt_ms: float = 0.0
    generate_ms: float = 0.0
    prompt_tokens: int = 0
    generated_tokens: int = 0


@dataclass(frozen=True)
class Answer:
    question: str  # as asked (after the length limit)
    query: str  # the standalone query that retrieval used
    text: str
    mode: Mode
    citations: tuple[Citation, ...]
    timings: Timings
    retrieved: tuple[str, ...] = ()  # document ids of the retrieved chunks, best first
    reply: str = ""  # what the model wrote, before checking ("" when it was not asked)
    why: str = ""  # what verification repaired, or why the answer fell back or abstained
    notice: str = ""  # something the person asking should know (the question was shortened)
    question_cut: bool = False  # the question was longer than RAG_MAX_QUESTION_CHARS and only its start was used

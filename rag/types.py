"""Values that cross module boundaries: frozen dataclasses, never dicts with magic keys."""

from __future__ import annotations

from dataclasses import dataclass


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
    """A file that was not ingested, and why (unsupported type, unreadable, empty)."""

    path: str
    reason: str


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

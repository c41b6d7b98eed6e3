"""Where the index lives: one interface, two stores.

The embedded store (`rag.store.FileStore`, the default) keeps documents, chunks, vectors,
FAISS and BM25 in one process's files; with `RAG_DATABASE_URL` set, PostgreSQL with
pgvector (`rag.pgstore.PgStore`) holds them, so several app instances and machines share
one index. Above this seam nothing knows which is in use: `rag.indexing` hands a store a
`Change` to commit under its writer's lock, and `rag.retrieve` asks a loaded index
(`Searchable`) for the candidates of a query, with their exact dense and BM25 scores, and
fuses them itself, so both stores rank alike.
This module defines the seam and picks the store; it stores nothing itself.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple, Protocol

import numpy as np

from rag.types import Chunk, Document

if TYPE_CHECKING:
    from rag.config import Settings
    from rag.store import IndexSettings


class Candidates(NamedTuple):
    """Chunks that may answer a query, in index order, with their exact scores and unit vectors."""

    chunks: list[Chunk]
    dense: np.ndarray  # cosine similarity to the query, one per chunk
    lexical: np.ndarray  # BM25 score (0 where no query term occurs)
    vectors: np.ndarray  # (len(chunks), d): what diversification (MMR) compares


@dataclass(frozen=True)
class Change:
    """The index a writer wants: documents kept as stored (their chunks and vectors untouched, the document
    itself as read now), documents added or replaced with their chunks and vectors, and the removal record.
    Every indexed document not named here is dropped."""

    settings: IndexSettings
    kept: dict[str, Document]
    added: list[Document]
    chunks: list[Chunk]  # of `added`
    vectors: np.ndarray  # one row per chunk
    removed: dict[str, str] = field(default_factory=dict)  # doc id -> content hash: removed on purpose


class Searchable(Protocol):
    """A loaded index, as the retriever and the writer see it."""

    @property
    def settings(self) -> IndexSettings: ...

    @property
    def removed(self) -> dict[str, str]: ...

    @property
    def version(self) -> Hashable: ...  # differs once the index was replaced or changed

    @property
    def documents(self) -> dict[str, Document]: ...

    @property
    def size(self) -> int: ...  # chunks

    def candidates(self, q: np.ndarray, query: str, wanted: int, doc_ids: Collection[str] | None) -> Candidates:
        """The dense and the lexical top `wanted` of a normalised query (or every chunk of `doc_ids`)."""
        ...

    def chunks_by_id(self, ids: Collection[str]) -> dict[str, Chunk]: ...

    def chunk_counts(self) -> dict[str, int]: ...

    def idf(self, term: str) -> float: ...


class Store(Protocol):
    where: str  # for messages: the index folder, or the database without its password

    def lock(self) -> AbstractContextManager[None]:
        """The writer's lock, or `LockedError` at once."""
        ...

    def clean(self) -> None:
        """Remove what a killed writer left (under `lock`)."""
        ...

    def exists(self) -> bool: ...

    def version(self) -> Hashable | None:
        """The live index's `version`, cheaply; None when there is none."""
        ...

    def load(self) -> Searchable:
        """The live index, or `IndexMissingError` / `IndexCorruptError` saying what to run."""
        ...

    def commit(self, change: Change, previous: Searchable | None) -> None:
        """Make `change` the live index at once (under `lock`; `previous` is what was loaded under it)."""
        ...


def open_store(settings: Settings) -> Store:
    """PostgreSQL when `RAG_DATABASE_URL` is set, else the embedded index folder."""
    if settings.database_url:
        from rag.pgstore import PgStore

        return PgStore(settings.database_url)
    from rag.store import FileStore

    return FileStore(settings.index_path)

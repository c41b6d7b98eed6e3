"""Hybrid retrieval: dense (FAISS over e5 vectors) and BM25, fused, optionally diversified.

For a question: the dense top candidates come from FAISS (or pgvector), the lexical top
candidates from BM25; for their union both scores are known exactly (a dot product with
the stored vector, the BM25 score): the store finds them (`rag.storage.Searchable`).
Fusion is a weighted sum of min-max normalised scores (`dense_weight`, default 0.5; the
fusions are compared in docs/evaluation.md) or reciprocal-rank fusion. A document
filter restricts the candidates; MMR trades relevance for diversity when asked.
A retriever made to `follow` a store notices when `rag index` (or another app) replaced
or changed its index: `current` loads the new one first and hands out a retriever fixed on one
index, so one answer never mixes two.
This module ranks what a store finds; it does not build or store an index.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Collection, Hashable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from rag.embed import Embedder
from rag.errors import IndexIncompatibleError, RagError
from rag.storage import Searchable, Store
from rag.store import REBUILD
from rag.text import fold, normalize
from rag.types import Chunk, Document

RRF_K = 60
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Hit:
    chunk: Chunk
    score: float  # the fused score that ranked it
    dense: float  # cosine similarity to the question
    lexical: float  # BM25 score


def minmax(values: np.ndarray) -> np.ndarray:
    """Scale to [0, 1]; all-equal values become 1 when positive, else 0.

    >>> minmax(np.array([2.0, 4.0, 3.0])).tolist()
    [0.0, 1.0, 0.5]
    """
    if len(values) == 0:
        return values.astype(np.float64)
    low, high = float(values.min()), float(values.max())
    if high > low:
        return (values - low) / (high - low)
    return np.where(values > 0, 1.0, 0.0)


def fuse(dense: np.ndarray, lexical: np.ndarray, how: Literal["weighted", "rrf"], dense_weight: float) -> np.ndarray:
    """One score per candidate from its dense and lexical scores.

    >>> fuse(np.array([0.9, 0.8, 0.7]), np.array([0.0, 6.0, 3.0]), "weighted", 0.5).round(3).tolist()
    [0.5, 0.75, 0.25]
    >>> fuse(np.array([0.9, 0.8]), np.array([1.0, 2.0]), "rrf", 0.5).round(5).tolist()
    [0.03252, 0.03252]
    """
    if how == "rrf":
        dense_rank = np.argsort(np.argsort(-dense))
        lexical_rank = np.argsort(np.argsort(-lexical))
        # a candidate that BM25 did not match gets nothing from the lexical list
        return 1 / (RRF_K + 1 + dense_rank) + np.where(lexical > 0, 1 / (RRF_K + 1 + lexical_rank), 0.0)
    return dense_weight * minmax(dense) + (1 - dense_weight) * minmax(lexical)


def mmr(candidates: list[int], scores: np.ndarray, vectors: np.ndarray, k: int, balance: float) -> list[int]:
    """Maximal marginal relevance: `balance` 1.0 is pure relevance, lower prefers passages unlike those chosen."""
    chosen: list[int] = []
    remaining = list(range(len(candidates)))
    relevance = minmax(scores)
    while remaining and len(chosen) < k:
        if chosen:
            similar = vectors[[candidates[r] for r in remaining]] @ vectors[[candidates[c] for c in chosen]].T
            penalty = similar.max(axis=1)
        else:
            penalty = np.zeros(len(remaining))
        best = max(range(len(remaining)), key=lambda i: balance * relevance[remaining[i]] - (1 - balance) * penalty[i])
        chosen.append(remaining.pop(best))
    return chosen


class Retriever:
    def __init__(
        self,
        index: Searchable,
        embedder: Embedder,
        dense_weight: float = 0.5,
        fusion: Literal["weighted", "rrf"] = "weighted",
        candidates: int = 50,
        follow: Store | None = None,
    ) -> None:
        self.embedder = embedder
        self.dense_weight, self.fusion, self.candidates = dense_weight, fusion, candidates
        self.index = self._checked(index)
        self.follow = follow  # the store whose replaced or changed index `current` loads
        self._loading = threading.Lock()
        self._refused: Hashable | None = None  # a replacement that could not be loaded: not tried again

    def _checked(self, index: Searchable) -> Searchable:
        built = index.settings
        if built.embedder_fingerprint != self.embedder.fingerprint:
            raise IndexIncompatibleError(
                f"the index was built with the embedder {built.embedder!r} ({built.embedder_fingerprint}), "
                f"but {self.embedder.name!r} ({self.embedder.fingerprint}) is configured; {REBUILD}."
            )
        return index

    def use(self, index: Searchable) -> None:
        """Search `index` from now on (after the app changed the documents); a search already running keeps
        the one it started with."""
        self.index = self._checked(index)

    def current(self) -> Retriever:
        """A retriever fixed on the live index, for one answer: when the followed index was replaced since the
        last call, the new one is loaded first (a new index that cannot be used is logged, and the one in use
        kept)."""
        if self.follow is not None:
            self._refresh(self.follow)
        view = copy.copy(self)
        view.follow = None
        return view

    def _refresh(self, store: Store) -> None:
        live = store.version()
        if live is None or live == self.index.version or live == self._refused:
            return
        with self._loading:  # one load at a time; the others see it done
            live = store.version()
            if live is None or live == self.index.version or live == self._refused:
                return
            try:
                self.use(store.load())
                log.info("the index at %s was replaced: now searching version %s", store.where, live)
            except Exception as exc:  # a damaged or incompatible index, or a failure reading it: keep this one
                self._refused = live
                why = str(exc) if isinstance(exc, RagError) else f"{type(exc).__name__}: {exc}"
                log.warning("the index at %s was replaced, but the new one is not used: %s", store.where, why)

    def reload(self, store: Store) -> None:
        """Search the index now in `store` (after this app changed it); its errors are raised. Loads never
        overlap with `current`'s, so an older index is never put back over a newer one."""
        with self._loading:
            self.use(store.load())

    def chunks(self, ids: Collection[str]) -> dict[str, Chunk]:
        """The indexed chunks with these ids, by id."""
        return self.index.chunks_by_id(ids)

    def documents(self) -> list[tuple[Document, int]]:
        """The indexed documents, by id, each with how many chunks it has."""
        counts = self.index.chunk_counts()
        return [(d, counts.get(d.id, 0)) for _, d in sorted(self.index.documents.items())]

    def idf(self, term: str) -> float:
        """How rare a (folded) syllable is in the indexed chunks: BM25's inverse document frequency."""
        return self.index.idf(term)

    @property
    def size(self) -> int:
        """How many chunks are indexed."""
        return self.index.size

    def search(
        self, query: str, k: int = 5, doc_ids: Collection[str] | None = None, diversity: float | None = None
    ) -> list[Hit]:
        """The `k` best chunks for `query`, best first; `diversity` (0..1) turns on MMR with that weight."""
        index = self.index
        if index.size == 0 or not fold(
            query
        ):  # nothing to look for: blanks, invisible characters, marks or punctuation
            return []
        query = normalize(query)  # the same normalisation as the documents, for both scorers
        q = self.embedder.embed([query], "query")[0]
        found = index.candidates(q, query, self.candidates, doc_ids)
        if not found.chunks:
            return []
        fused = fuse(found.dense, found.lexical, self.fusion, self.dense_weight)
        order = list(np.argsort(-fused, kind="stable"))
        if diversity is not None:
            top = order[: max(k * 4, k)]
            picked = mmr(list(range(len(top))), fused[top], found.vectors[top], k, 1 - diversity)
            order = [top[i] for i in picked]
        return [
            Hit(found.chunks[i], float(fused[i]), float(found.dense[i]), float(found.lexical[i])) for i in order[:k]
        ]

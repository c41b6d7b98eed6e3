"""Hybrid retrieval: dense (FAISS over e5 vectors) and BM25, fused, optionally diversified.

For a question: the dense top candidates come from FAISS, the lexical top candidates
from BM25; for their union both scores are known exactly (a dot product with the stored
vector, a column of the BM25 scores). Fusion is a weighted sum of min-max normalised
scores (`dense_weight`, default 0.5; the fusions are compared in docs/evaluation.md) or
reciprocal-rank fusion. A document
filter restricts the candidates; MMR trades relevance for diversity when asked.
A retriever made to `follow` an index folder notices when `rag index` (or another app)
replaced it: `current` loads the new one first and hands out a retriever fixed on one
index, so one answer never mixes two.
This module reads an `Index`; it does not build one.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from rag import store
from rag.embed import Embedder
from rag.errors import IndexIncompatibleError, RagError
from rag.store import REBUILD, Index
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
        index: Index,
        embedder: Embedder,
        dense_weight: float = 0.5,
        fusion: Literal["weighted", "rrf"] = "weighted",
        candidates: int = 50,
        follow: Path | None = None,
    ) -> None:
        self.embedder = embedder
        self.dense_weight, self.fusion, self.candidates = dense_weight, fusion, candidates
        self.index = self._checked(index)
        self.follow = follow  # the index folder (a link) whose replacements `current` loads
        self._loading = threading.Lock()
        self._refused: Path | None = None  # a replacement that could not be loaded: not tried again

    def _checked(self, index: Index) -> Index:
        built = index.settings
        if built.embedder_fingerprint != self.embedder.fingerprint:
            raise IndexIncompatibleError(
                f"the index was built with the embedder {built.embedder!r} ({built.embedder_fingerprint}), "
                f"but {self.embedder.name!r} ({self.embedder.fingerprint}) is configured; {REBUILD}."
            )
        return index

    def use(self, index: Index) -> None:
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

    def _refresh(self, index_dir: Path) -> None:
        live = index_dir.resolve()
        if live == self.index.folder or live == self._refused:
            return
        with self._loading:  # one load at a time; the others see it done
            live = index_dir.resolve()
            if live == self.index.folder or live == self._refused:
                return
            try:
                self.use(store.load(index_dir))
                log.info("the index at %s was replaced: now searching %s", index_dir, live.name)
            except Exception as exc:  # a damaged or incompatible index, or a failure reading it: keep this one
                self._refused = live
                why = str(exc) if isinstance(exc, RagError) else f"{type(exc).__name__}: {exc}"
                log.warning("the index at %s was replaced, but the new one is not used: %s", index_dir, why)

    def reload(self, index_dir: Path) -> None:
        """Search the index now at `index_dir` (after this app changed it); its errors are raised. Loads never
        overlap with `current`'s, so an older index is never put back over a newer one."""
        with self._loading:
            self.use(store.load(index_dir))

    def chunks(self, ids: Collection[str]) -> dict[str, Chunk]:
        """The indexed chunks with these ids, by id."""
        return {c.id: c for c in self.index.chunks if c.id in ids}

    def documents(self) -> list[tuple[Document, int]]:
        """The indexed documents, by id, each with how many chunks it has."""
        counts = Counter(c.doc_id for c in self.index.chunks)
        return [(d, counts.get(d.id, 0)) for _, d in sorted(self.index.documents.items())]

    def idf(self, term: str) -> float:
        """How rare a (folded) syllable is in the indexed chunks: BM25's inverse document frequency."""
        return self.index.bm25.idf(term)

    @property
    def size(self) -> int:
        """How many chunks are indexed."""
        return len(self.index.chunks)

    def search(
        self, query: str, k: int = 5, doc_ids: Collection[str] | None = None, diversity: float | None = None
    ) -> list[Hit]:
        """The `k` best chunks for `query`, best first; `diversity` (0..1) turns on MMR with that weight."""
        index = self.index
        total = len(index.chunks)
        if total == 0 or not fold(query):  # nothing to look for: blanks, invisible characters, marks or punctuation
            return []
        allowed = None
        if doc_ids is not None:
            allowed = np.array([c.doc_id in doc_ids for c in index.chunks])
        query = normalize(query)  # the same normalisation as the documents, for both scorers
        q = self.embedder.embed([query], "query")[0]
        lexical_all = index.bm25.scores(query)
        if allowed is not None:  # a filtered search scores every chunk of the chosen documents exactly
            pool = np.flatnonzero(allowed)
        else:
            wanted = min(total, self.candidates)
            _, found = index.faiss_index.search(q.reshape(1, -1), wanted)
            lexical_top = np.argpartition(-lexical_all, wanted - 1)[:wanted]  # the top `wanted`, unordered
            pool = np.unique(np.concatenate([found[0][found[0] >= 0], lexical_top[lexical_all[lexical_top] > 0]]))
        if len(pool) == 0:
            return []
        dense = index.vectors[pool] @ q
        lexical = lexical_all[pool]
        fused = fuse(dense, lexical, self.fusion, self.dense_weight)
        order = list(np.argsort(-fused, kind="stable"))
        if diversity is not None:
            top = order[: max(k * 4, k)]
            picked = mmr([int(pool[i]) for i in top], fused[top], index.vectors, k, 1 - diversity)
            order = [top[i] for i in picked]
        return [Hit(index.chunks[int(pool[i])], float(fused[i]), float(dense[i]), float(lexical[i])) for i in order[:k]]

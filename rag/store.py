"""The on-disk index: documents, chunks, vectors, FAISS, BM25 and a manifest, swapped in atomically.

Layout: `RAG_INDEX_DIR` (default `data/index`) is a symbolic link to a folder
`.<name>-<id>` beside it (`.index-<id>` for `data/index`) holding

    manifest.json         format version, build settings (embedder name and fingerprint,
                          dimension, chunking / cleaning / normalisation versions),
                          the content hash and chunk ids of every document, and the
                          documents removed on purpose (kept out when their folder is
                          indexed again)
    documents.jsonl       the cleaned documents (chunks' character spans point into them)
    chunks.jsonl          the chunks, in vector order
    vectors.npy           float32 (n, d), unit length: kept so unchanged documents are
                          never embedded again
    faiss.index           exact inner product (IndexFlatIP) or HNSW, ids = chunk positions
    bm25.npz, bm25_vocabulary.json

`write` builds a complete new folder, then replaces the link with one `rename(2)`: a
reader sees the old index or the new one, never a mix, and a writer killed at any point
leaves the previous index in place (its half-built folder is removed by the next run).
A full disk is found before writing when it can be (the new folder's size is estimated),
and otherwise when a write fails: either way a `DiskSpaceError`, the half-built folder
removed, the previous index untouched.
`lock` keeps two writers apart. `FileStore` is this store behind `rag.storage`'s interface
(the other is PostgreSQL, `rag.pgstore`); a loaded `Index` answers the retriever's questions
(candidates for a query, chunks by id, idf) from memory. This module stores, loads and scores
candidates; `rag.indexing` decides what to embed, `rag.retrieve` fuses and ranks.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import shutil
import uuid
import zipfile
from collections import Counter
from collections.abc import Collection, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import ConfigError, DiskSpaceError, IndexCorruptError, IndexMissingError, LockedError
from rag.lexical import BM25
from rag.storage import Candidates, Change, Searchable
from rag.types import Chunk, Document

FORMAT_VERSION = 1
REBUILD = "run `rag index --rebuild`"


@dataclass(frozen=True)
class IndexSettings:
    """What an index's vectors, chunks, FAISS and BM25 were built with (`rag.indexing.build_settings`); any
    difference from the configured ones means a rebuild. Stored in the manifest as a JSON object; a field an
    older index lacks reads as its default here, which differs from any real value, so it rebuilds."""

    embedder: str = ""
    embedder_fingerprint: str = ""
    dim: int = 0
    chunk_tokens: int | None = None
    chunk_overlap: int | None = None
    chunking_version: int | None = None
    cleaning_version: int | None = None
    normalization_version: int | None = None
    hnsw: bool = False
    lexical_version: int | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> IndexSettings:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class Index:
    """A loaded index; `positions` of FAISS results index `chunks` and `vectors`."""

    folder: Path
    settings: IndexSettings
    documents: dict[str, Document]
    chunks: list[Chunk]
    vectors: np.ndarray
    faiss_index: Any = field(repr=False)
    bm25: BM25 = field(repr=False)
    removed: dict[str, str] = field(default_factory=dict)  # doc id -> content hash: removed on purpose, kept out

    @property
    def version(self) -> Path:
        """What a newer index would differ in: its folder."""
        return self.folder

    @property
    def size(self) -> int:
        return len(self.chunks)

    def candidates(self, q: np.ndarray, query: str, wanted: int, doc_ids: Collection[str] | None) -> Candidates:
        """The union of FAISS's and BM25's top `wanted` for a (normalised) query and its vector, or every chunk of
        `doc_ids`, with both exact scores, in index order."""
        lexical_all = self.bm25.scores(query)
        if doc_ids is not None:  # a filtered search scores every chunk of the chosen documents exactly
            pool = np.flatnonzero(np.array([c.doc_id in doc_ids for c in self.chunks], dtype=bool))
        else:
            wanted = min(self.size, wanted)
            _, found = self.faiss_index.search(q.reshape(1, -1), wanted)
            lexical_top = np.argpartition(-lexical_all, wanted - 1)[:wanted]  # the top `wanted`, unordered
            pool = np.unique(np.concatenate([found[0][found[0] >= 0], lexical_top[lexical_all[lexical_top] > 0]]))
        vectors = self.vectors[pool]
        return Candidates([self.chunks[int(i)] for i in pool], vectors @ q, lexical_all[pool], vectors)

    def chunks_by_id(self, ids: Collection[str]) -> dict[str, Chunk]:
        return {c.id: c for c in self.chunks if c.id in ids}

    def chunk_counts(self) -> dict[str, int]:
        return dict(Counter(c.doc_id for c in self.chunks))

    def idf(self, term: str) -> float:
        return self.bm25.idf(term)


class FileStore:
    """The embedded store (`rag.storage.Store`): an index folder under `index_dir`."""

    def __init__(self, index_dir: Path) -> None:
        self.index_dir = index_dir
        self.where = str(index_dir)

    def lock(self) -> AbstractContextManager[None]:
        return lock(self.index_dir)

    def clean(self) -> None:
        remove_stale(self.index_dir)

    def exists(self) -> bool:
        return read_manifest(self.index_dir) is not None

    def version(self) -> Path | None:
        return self.index_dir.resolve() if self.index_dir.exists() else None

    def load(self) -> Index:
        return load(self.index_dir)

    def commit(self, change: Change, previous: Searchable | None) -> None:
        """Write the index `change` describes: the kept documents' chunks and vectors come from `previous`."""
        assert previous is None or isinstance(previous, Index), "an index folder keeps what an index folder held"
        positions: dict[str, list[int]] = {}
        if previous is not None:
            for i, chunk in enumerate(previous.chunks):
                positions.setdefault(chunk.doc_id, []).append(i)
        new_rows: dict[str, list[int]] = {}
        for i, chunk in enumerate(change.chunks):
            new_rows.setdefault(chunk.doc_id, []).append(i)
        fresh = {d.id: d for d in change.added}
        documents: list[Document] = []
        chunks: list[Chunk] = []
        parts: list[np.ndarray] = []
        for doc_id in sorted({*change.kept, *fresh}):
            if doc_id in fresh:
                rows = new_rows.get(doc_id, [])
                documents.append(fresh[doc_id])
                chunks.extend(change.chunks[i] for i in rows)
                parts.append(change.vectors[rows])
            else:
                assert previous is not None, "kept documents come from a previous index"
                rows = positions.get(doc_id, [])
                documents.append(change.kept[doc_id])
                chunks.extend(previous.chunks[i] for i in rows)
                parts.append(previous.vectors[rows])
        dim = change.settings.dim or change.vectors.shape[1]
        matrix = np.concatenate(parts) if parts else np.zeros((0, dim), dtype=np.float32)
        write(self.index_dir, change.settings, documents, chunks, matrix, change.removed)


@contextmanager
def lock(index_dir: Path) -> Iterator[None]:
    """Hold the writer's lock for `index_dir`, or raise `LockedError` at once."""
    index_dir.parent.mkdir(parents=True, exist_ok=True)
    with (index_dir.parent / f"{index_dir.name}.lock").open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockedError(f"another `rag index` is writing {index_dir}; wait for it to finish.") from None
        yield


# HNSW graph: neighbours per node, and the breadth of the search when building and when searching
# (chosen by bench/search_latency.py's efSearch sweep: docs/benchmarks.md).
HNSW_M, HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH = 32, 200, 512


def build_faiss(vectors: np.ndarray, hnsw: bool) -> Any:
    import faiss

    dim = vectors.shape[1]
    inner: Any = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT) if hnsw else faiss.IndexFlatIP(dim)
    if hnsw:
        inner.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    index = faiss.IndexIDMap2(inner) if not hnsw else faiss.IndexIDMap(inner)
    if len(vectors):
        index.add_with_ids(vectors, np.arange(len(vectors), dtype=np.int64))
    return index


def set_ef_search(faiss_index: Any, ef: int) -> None:
    """The search breadth of an HNSW index, whatever it was saved with (FAISS's default is 16); exact ones have none."""
    import faiss

    inner = faiss.downcast_index(getattr(faiss_index, "index", faiss_index))
    if isinstance(inner, faiss.IndexHNSW):
        inner.hnsw.efSearch = ef


def _fsync_file(path: Path) -> None:
    with path.open("rb") as f:
        os.fsync(f.fileno())


def write(
    index_dir: Path,
    settings: IndexSettings,
    documents: Sequence[Document],
    chunks: Sequence[Chunk],
    vectors: np.ndarray,
    removed: dict[str, str] | None = None,
) -> None:
    """Write a complete index and make it the live one atomically. Call under `lock`. `removed` names the documents
    removed on purpose (by id, with their content hash), which indexing the same folder again leaves out."""
    import faiss

    if len(chunks) != len(vectors):
        raise ValueError("one vector per chunk")
    parent = index_dir.parent
    parent.mkdir(parents=True, exist_ok=True)
    if index_dir.exists() and not index_dir.is_symlink():
        raise ConfigError(
            f"RAG_INDEX_DIR points at {index_dir}, an existing folder that is not a rag index; "
            "point it at a new path (rag never replaces a folder it did not make)."
        )
    need = _estimate_bytes(documents, chunks, vectors)
    if shutil.disk_usage(parent).free < need:
        raise _disk_full(parent, need)
    folder = parent / f"{_prefix(index_dir)}{uuid.uuid4().hex[:12]}"
    folder.mkdir()
    try:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        np.save(folder / "vectors.npy", vectors)
        faiss.write_index(build_faiss(vectors, settings.hnsw), str(folder / "faiss.index"))
        BM25.build([c.text for c in chunks]).save(folder)
        with (folder / "documents.jsonl").open("w", encoding="utf-8") as f:
            f.writelines(json.dumps(asdict(d), ensure_ascii=False) + "\n" for d in documents)
        with (folder / "chunks.jsonl").open("w", encoding="utf-8") as f:
            f.writelines(json.dumps(asdict(c), ensure_ascii=False) + "\n" for c in chunks)
        chunk_ids: dict[str, list[str]] = {}
        for c in chunks:
            chunk_ids.setdefault(c.doc_id, []).append(c.id)
        manifest = {
            "format": FORMAT_VERSION,
            "settings": asdict(settings),
            "chunks": len(chunks),
            "documents": {d.id: {"content_hash": d.content_hash, "chunks": chunk_ids.get(d.id, [])} for d in documents},
            "removed": dict(sorted((removed or {}).items())),
        }
        (folder / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False), encoding="utf-8")
        for path in folder.iterdir():
            _fsync_file(path)
        link = parent / f"{_prefix(index_dir)}link-{uuid.uuid4().hex[:12]}"
        link.symlink_to(folder.name)
        _fsync_dir(parent)
        os.replace(link, index_dir)  # the commit point
        _fsync_dir(parent)
    except BaseException as exc:
        shutil.rmtree(folder, ignore_errors=True)
        full = isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
        if full or (isinstance(exc, RuntimeError) and shutil.disk_usage(parent).free < need):  # faiss's own writer
            raise _disk_full(parent, need) from None
        raise
    remove_stale(index_dir)


def _estimate_bytes(documents: Sequence[Document], chunks: Sequence[Chunk], vectors: np.ndarray) -> int:
    """A lower bound of the new folder's size: the vectors twice (.npy and FAISS) and the texts once."""
    texts = sum(len(d.text.encode()) for d in documents) + sum(len(c.text.encode()) for c in chunks)
    return 2 * int(vectors.size) * 4 + texts


def _disk_full(parent: Path, need: int) -> DiskSpaceError:
    free = shutil.disk_usage(parent).free
    return DiskSpaceError(
        f"not enough disk space in {parent} to write the index (about {need / 1e6:.1f} MB needed, "
        f"{free / 1e6:.1f} MB free); free some space and run `rag index` again. The previous index is unchanged."
    )


def _prefix(index_dir: Path) -> str:
    """Names of this index's folders and temporary links: other indexes in the same parent are never touched."""
    return f".{index_dir.name}-"


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_stale(index_dir: Path) -> None:
    """Delete this index's folders and links that the live link does not point to (left by killed runs).

    Call under `lock`: another writer of the same index could be building one of them.
    """
    live = index_dir.resolve() if index_dir.is_symlink() else None
    for path in index_dir.parent.glob(f"{_prefix(index_dir)}*"):
        if path.is_symlink():
            path.unlink(missing_ok=True)
        elif path.resolve() != live:
            shutil.rmtree(path, ignore_errors=True)


def read_manifest(index_dir: Path, folder: Path | None = None) -> dict[str, Any] | None:
    """The live index's manifest (read from `folder`, the link resolved once), or None when there is no index."""
    if not index_dir.exists():
        return None
    folder = folder or index_dir.resolve()
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexCorruptError(f"the index at {index_dir} is damaged (manifest: {exc}); {REBUILD}.") from None
    if (
        not isinstance(manifest, dict)
        or manifest.get("format") != FORMAT_VERSION
        or not isinstance(manifest.get("settings"), dict)
        or not isinstance(manifest.get("documents"), dict)
    ):
        raise IndexCorruptError(f"the index at {index_dir} has another format or is damaged; {REBUILD}.")
    return manifest


def _jsonl(path: Path) -> list[dict[str, Any]]:
    """One JSON object a line. Split on "\n" only: `str.splitlines` would also split inside strings
    holding U+2028, U+0085 and other Unicode line breaks, which `json.dumps(ensure_ascii=False)` keeps raw."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line]


def load(index_dir: Path) -> Index:
    """Load the live index, or say what to run: `IndexMissingError` / `IndexCorruptError`."""
    import faiss

    folder = index_dir.resolve()  # once: a writer may swap the link meanwhile
    manifest = read_manifest(index_dir, folder)
    if manifest is None:
        raise IndexMissingError(f"no index at {index_dir}; run `rag index seeds/` (or the folders to index).")
    try:
        documents = {}
        for line in _jsonl(folder / "documents.jsonl"):
            document = Document(**line)
            documents[document.id] = document
        chunks = [Chunk(**line) for line in _jsonl(folder / "chunks.jsonl")]
        vectors = np.load(folder / "vectors.npy")
        faiss_index = faiss.read_index(str(folder / "faiss.index"))
        set_ef_search(faiss_index, HNSW_EF_SEARCH)
        bm25 = BM25.load(folder)
    except (OSError, ValueError, TypeError, KeyError, RuntimeError, zipfile.BadZipFile) as exc:
        raise IndexCorruptError(f"the index at {index_dir} is damaged ({exc}); {REBUILD}.") from None
    sizes = {len(chunks), len(vectors), int(faiss_index.ntotal), int(bm25.weights.shape[1]), manifest.get("chunks")}
    if len(sizes) != 1 or set(documents) != set(manifest["documents"]):
        raise IndexCorruptError(f"the index at {index_dir} is inconsistent (its parts disagree); {REBUILD}.")
    try:
        settings = IndexSettings.from_json(manifest["settings"])
    except TypeError as exc:
        raise IndexCorruptError(f"the index at {index_dir} is damaged (settings: {exc}); {REBUILD}.") from None
    removed = manifest.get("removed", {})  # an index from before removals were kept has none
    if not isinstance(removed, dict):
        raise IndexCorruptError(f"the index at {index_dir} is damaged (removed: not an object); {REBUILD}.")
    return Index(folder, settings, documents, chunks, vectors, faiss_index, bm25, removed)

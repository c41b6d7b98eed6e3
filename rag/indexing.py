"""`rag index`: bring the index up to date with the given files, embedding only what changed.

A document is identified by its path (relative to the home folder) and compared by the
sha256 of its bytes: unchanged documents keep their chunks and vectors, changed ones are
chunked and embedded again, documents no longer found are dropped with `prune` (kept
otherwise, so `rag index one-more.pdf` adds to the index; `prune` only drops documents that
were under one of the paths given). When the build settings differ
from the index's (another embedder or model files, other chunk sizes, a new version of
cleaning, normalisation or chunking) everything is rebuilt and the report says why.
A rebuild keeps documents from earlier runs, embedding their stored text again. Nothing is
written when nothing changed; switching FAISS between exact and HNSW, or a new version of
the BM25 terms, rewrites the index from the stored vectors and texts without embedding.
A scan read by OCR whose bytes are unchanged is not read again (unless cleaning or
normalisation changed, or `rebuild`); every other file is read again, cheaply. Documents
removed on purpose (`remove`) are recorded in the index and left out, unread, when their
folder is indexed again, unless `restore` is asked for.
Storage and atomicity live in the store (`rag.storage`: the index folder or PostgreSQL).
"""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rag.chunking import CHUNKING_VERSION, chunk_text
from rag.cleaning import CLEANING_VERSION
from rag.config import Settings
from rag.embed import Embedder
from rag.errors import IndexCorruptError, NothingToIndexError
from rag.ingest import load_documents
from rag.lexical import LEXICAL_VERSION
from rag.ocr import Ocr
from rag.progress import NoProgress, Progress
from rag.storage import Change, open_store
from rag.store import FileStore, IndexSettings
from rag.text import NORMALIZATION_VERSION
from rag.types import Chunk, Document, Skipped

# Chunks handed to the embedder at a time: it sorts them by length and batches them, so a larger
# group pads less (about 10% faster with OpenVINO than groups of 32); progress moves once a group.
BATCH = 256


@dataclass(frozen=True)
class Report:
    """What one `update` did, document ids by outcome (made once, when the run is over)."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # indexed before, not in this run's paths, not pruned
    skipped: list[Skipped] = field(default_factory=list)
    rebuild_reason: str | None = None
    embedded: int = 0
    embed_seconds: float = 0.0
    total_chunks: int = 0
    written: bool = False
    withheld: list[str] = field(default_factory=list)  # found, but removed on purpose earlier: left out
    restored: list[str] = field(default_factory=list)  # removed earlier, brought back by `restore`
    ocr_pages: int = 0  # pages read by OCR in this run
    ocr_seconds: float = 0.0


def build_settings(embedder: Embedder, settings: Settings) -> IndexSettings:
    """What the index's vectors and chunks depend on; any difference means a rebuild."""
    return IndexSettings(
        embedder=embedder.name,
        embedder_fingerprint=embedder.fingerprint,
        dim=embedder.dim,
        chunk_tokens=settings.chunk_tokens,
        chunk_overlap=settings.chunk_overlap,
        chunking_version=CHUNKING_VERSION,
        cleaning_version=CLEANING_VERSION,
        normalization_version=NORMALIZATION_VERSION,
        hnsw=settings.index_hnsw,
        lexical_version=LEXICAL_VERSION,
    )


# Rebuilt from the stored vectors and chunk texts when they change: nothing is embedded again.
DERIVED = ("hnsw", "lexical_version")


def _core(settings: IndexSettings) -> dict[str, Any]:
    """The settings the vectors and chunks depend on (FAISS and BM25 are rebuilt from what is stored)."""
    return {k: v for k, v in asdict(settings).items() if k not in DERIVED}


def _difference(old: dict[str, Any], new: dict[str, Any]) -> str:
    """What changed between two `_core`s, for the report."""
    changed = [f"{k}: {old.get(k)!r} → {new.get(k)!r}" for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
    return "the build settings changed (" + "; ".join(changed) + "), so everything is embedded again"


def embedding_text(chunk: Chunk) -> str:
    """What the embedder sees for a chunk: the document title, then the chunk."""
    return f"{chunk.title}\n{chunk.text}"


def chunk_document(document: Document, embedder: Embedder, settings: Settings) -> list[Chunk]:
    return [
        Chunk(c.id, document.id, document.title, document.date, c.start, c.end, c.text)
        for c in chunk_text(
            document.id, document.text, embedder.count_tokens, settings.chunk_tokens, settings.chunk_overlap
        )
    ]


def update(
    paths: Sequence[Path],
    embedder: Embedder,
    settings: Settings,
    prune: bool = False,
    rebuild: bool = False,
    progress: Progress | None = None,
    restore: bool = False,
    ray: str | None = None,
) -> Report:
    """Index `paths` into the configured store; see the module docstring. `ray` embeds on a Ray cluster: the
    address of its head, or "local" for one started here (`rag.cluster`)."""
    progress = progress or NoProgress()
    target = open_store(settings)
    wanted = build_settings(embedder, settings)
    ocr = Ocr.from_settings(settings, progress)
    with target.lock():
        target.clean()  # what a killed run left goes now, even when this run has nothing to write
        try:
            previous = target.load() if target.exists() else None
        except IndexCorruptError:
            if not rebuild:
                raise
            previous = None  # --rebuild over a damaged index: start from the files alone
        reason = "--rebuild was asked for" if rebuild and previous is not None else None
        if previous is not None and _core(previous.settings) != _core(wanted):
            reason = _difference(_core(previous.settings), _core(wanted))
        # with a rebuild, nothing is reused: documents from earlier runs are embedded again from their stored text
        old = previous if reason is None else None
        progress.step("reading documents")
        # a scan whose bytes are those indexed is not OCR'd again, unless reading changed or a rebuild is asked for
        known = {}
        if previous is not None and ocr is not None and not rebuild and _same_reading(previous.settings, wanted):
            known = {doc_id: d for doc_id, d in previous.documents.items() if d.ocr_pages}
        removed_before = dict(previous.removed) if previous is not None else {}
        left_out: list[str] = []
        documents, skipped = load_documents(
            paths,
            settings.home,
            settings.max_document_mb,
            ocr,
            known,
            leave_out=() if restore else removed_before,
            left_out=left_out,
        )
        withheld = sorted(set(left_out))  # removed on purpose earlier: not even read
        restored = sorted(d.id for d in documents if d.id in removed_before)
        for doc_id in restored:
            del removed_before[doc_id]
        if previous is None and not documents:
            raise NothingToIndexError(
                "found no document to index under " + ", ".join(str(p) for p in paths) + " (see the skipped files)."
            )

        added: list[str] = []
        changed: list[str] = []
        unchanged: list[str] = []
        removed: list[str] = []
        kept: list[str] = []
        reused: dict[str, Document] = {}  # doc id -> document whose stored chunks and vectors are kept
        fresh: list[Document] = []
        incoming = {d.id for d in documents}
        for document in documents:
            before = previous.documents.get(document.id) if previous else None
            same = before is not None and before.content_hash == document.content_hash
            if same and old is not None:
                reused[document.id] = document
            else:
                fresh.append(document)  # new, changed, or a rebuild
            (unchanged if same else changed if before is not None else added).append(document.id)
        roots = [p.resolve() for p in paths]
        for doc_id, document in previous.documents.items() if previous else []:
            if doc_id in incoming:
                continue
            if prune and any(Path(document.path).resolve().is_relative_to(root) for root in roots):
                removed.append(doc_id)  # it was under a path given to this run, and is gone
            elif old is not None:
                reused[doc_id] = document
                kept.append(doc_id)
            else:
                fresh.append(document)  # a rebuild keeps it: chunk and embed its stored text again
                kept.append(doc_id)

        def report(**outcome: Any) -> Report:
            pages, seconds = (ocr.pages_read, ocr.seconds) if ocr is not None else (0, 0.0)
            return Report(
                added, changed, unchanged, removed, kept, skipped, reason, **outcome,
                withheld=withheld, restored=restored, ocr_pages=pages, ocr_seconds=seconds,
            )  # fmt: skip

        derived_changed = previous is not None and any(
            getattr(previous.settings, k) != getattr(wanted, k) for k in DERIVED
        )
        if old is not None and not fresh and not removed and not restored and not derived_changed:
            return report(total_chunks=old.size)

        new_chunks = [chunk for document in fresh for chunk in chunk_document(document, embedder, settings)]
        if ray is not None and new_chunks:
            from rag.cluster import embed_on_ray

            started = time.perf_counter()
            texts = [embedding_text(c) for c in new_chunks]
            vectors = embed_on_ray(texts, embedder, settings, ray, progress)
            seconds = time.perf_counter() - started
        else:
            vectors, seconds = _embed(new_chunks, embedder, progress)
        counts = old.chunk_counts() if old is not None else {}
        total = len(new_chunks) + sum(counts.get(doc_id, 0) for doc_id in reused)
        progress.step("writing the index")
        target.commit(Change(wanted, reused, fresh, new_chunks, vectors, removed_before), old)
    return report(embedded=len(new_chunks), embed_seconds=seconds, total_chunks=total, written=True)


def _embed(chunks: Sequence[Chunk], embedder: Embedder, progress: Progress) -> tuple[np.ndarray, float]:
    progress.step(f"embedding {len(chunks)} chunks", total=len(chunks), unit="chunks")
    started = time.perf_counter()
    parts = []
    for i in range(0, len(chunks), BATCH):
        batch = chunks[i : i + BATCH]
        parts.append(embedder.embed([embedding_text(c) for c in batch], "passage"))
        progress.advance(len(batch))
    vectors = np.concatenate(parts) if parts else np.zeros((0, embedder.dim), dtype=np.float32)
    return vectors, time.perf_counter() - started


@dataclass(frozen=True)
class Copied:
    where: str
    documents: int
    chunks: int
    seconds: float


def copy_to_database(settings: Settings, url: str, progress: Progress | None = None) -> Copied:
    """Copy the index folder, as it is, into the database at `url` (its vectors too: nothing is embedded),
    replacing what the database held."""
    from rag.pgstore import PgStore

    progress = progress or NoProgress()
    started = time.perf_counter()
    source = FileStore(settings.index_path)
    target = PgStore(url)
    with source.lock(), target.lock():
        index = source.load()
        progress.step(f"copying {index.size} chunks to {target.where}")
        documents = [d for _, d in sorted(index.documents.items())]
        target.commit(Change(index.settings, {}, documents, index.chunks, index.vectors, index.removed), None)
    return Copied(target.where, len(documents), index.size, time.perf_counter() - started)


def remove(doc_ids: Collection[str], settings: Settings) -> list[str]:
    """Drop these documents from the index (nothing is embedded); the ids that were there and are gone. The index
    remembers them: indexing their folder again leaves them out, unless `restore` is asked for."""
    target = open_store(settings)
    with target.lock():
        previous = target.load()
        gone = sorted(set(doc_ids) & set(previous.documents))
        if not gone:
            return []
        kept = {doc_id: d for doc_id, d in previous.documents.items() if doc_id not in gone}
        removed = {**previous.removed, **{doc_id: previous.documents[doc_id].content_hash for doc_id in gone}}
        empty = np.zeros((0, previous.settings.dim), dtype=np.float32)
        target.commit(Change(previous.settings, kept, [], [], empty, removed), previous)
    return gone


def _same_reading(built: IndexSettings, wanted: IndexSettings) -> bool:
    """Whether documents read for `built` read the same now (cleaning and normalisation unchanged)."""
    return (built.cleaning_version, built.normalization_version) == (
        wanted.cleaning_version,
        wanted.normalization_version,
    )

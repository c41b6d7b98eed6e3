"""Documents in: the supported files under the given paths, read (`rag.readers`) and cleaned (`rag.cleaning`)
into `Document`s.

One unreadable file never stops the run: it is returned as `Skipped` with its reason, and so
is every unsupported file. Before a reader sees a file it must be a regular file (not a FIFO
or a device), not empty, and under the size limit (`RAG_MAX_DOCUMENT_MB`, checked by `stat`
before a byte is read). Text in a pre-Unicode Vietnamese encoding (TCVN3, VNI), whatever
format it came in, is converted by `rag.legacy`; scans are read by the `Ocr` given. A file
whose bytes are those of a document already indexed is not read again. A document's id is
its path relative to the home folder.
This module does not chunk, embed or index.
"""

from __future__ import annotations

import hashlib
import stat
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from rag import legacy
from rag.cleaning import clean
from rag.errors import ReadError
from rag.ocr import Ocr
from rag.readers import MB, READERS, SUPPORTED
from rag.types import Document, Skipped


def iter_files(paths: Iterable[Path]) -> Iterable[Path]:
    """The files under `paths` (folders recursively, sorted; hidden files inside folders ignored)."""
    for path in paths:
        if path.is_dir():
            yield from (
                p
                for p in sorted(path.rglob("*"))
                if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
        else:
            yield path


def load_file(
    path: Path, home: Path, max_mb: float = 50, ocr: Ocr | None = None, known: Mapping[str, Document] | None = None
) -> Document | Skipped:
    """One file as a `Document`, or `Skipped` with the reason it could not be used; none over `max_mb` is read.
    A file whose id and bytes are those of a `known` document is not read again: that document is returned."""
    suffix = path.suffix.lower()
    shown = str(path)
    if suffix not in SUPPORTED:
        kinds = ", ".join(sorted(SUPPORTED))
        return Skipped(
            shown,
            f"unsupported type {suffix or '(none)'}; supported: {kinds}",
            f"loại tệp {suffix or '(không có đuôi)'} không được hỗ trợ; dùng {kinds}",
        )
    try:
        status = path.stat()
        if not stat.S_ISREG(status.st_mode):
            return Skipped(
                shown, "not a regular file (a pipe, a device or the like)", "không phải tệp thường (ống, thiết bị…)"
            )
        if status.st_size == 0:
            return Skipped(shown, "empty file (0 bytes)", "tệp rỗng (0 byte)")
        if status.st_size > max_mb * MB:
            size = status.st_size / MB
            return Skipped(
                shown,
                f"{size:.1f} MB, over the {max_mb:g} MB limit (RAG_MAX_DOCUMENT_MB)",
                f"{size:.1f} MB, quá giới hạn {max_mb:g} MB (RAG_MAX_DOCUMENT_MB)",
            )
        content_hash = hashlib.sha256(path.read_bytes()).hexdigest()
        before = (known or {}).get(document_id(path, home))
        if before is not None and before.content_hash == content_hash:
            return replace(before, path=shown)
        raw = READERS[suffix](path, ocr)
    except ReadError as exc:
        return Skipped(shown, str(exc), exc.vi)
    except OSError as exc:
        return Skipped(shown, f"cannot read it ({exc.strerror or exc})", f"không đọc được tệp ({exc.strerror or exc})")
    except Exception as exc:  # a parser's own failure on a damaged file must not stop the run
        detail = f"{type(exc).__name__}: {exc}"
        return Skipped(
            shown,
            f"damaged or unreadable {suffix} file ({detail})",
            f"tệp {suffix} bị hỏng hoặc không đọc được ({detail})",
        )
    encoding = raw.encoding
    if encoding is None:
        repaired, encoding = legacy.repair(raw.text)
        if encoding is not None:
            title = legacy.to_unicode(raw.title, encoding) if raw.title else raw.title
            raw = replace(raw, text=repaired, title=title, encoding=encoding)
    cleaned = clean(raw, fallback_title=path.stem)
    if not cleaned.text:
        return Skipped(shown, "no text left after cleaning", "không còn chữ nào sau khi làm sạch")
    return Document(
        document_id(path, home),
        shown,
        cleaned.title,
        cleaned.date,
        cleaned.source,
        cleaned.text,
        content_hash,
        title_derived=cleaned.title_derived,
        encoding=encoding,
        ocr_pages=raw.ocr_pages,
    )


def document_id(path: Path, home: Path) -> str:
    """A document's id: its path relative to `home` (resolved) when inside it, else its absolute path."""
    resolved = path.resolve()
    return resolved.relative_to(home).as_posix() if resolved.is_relative_to(home) else resolved.as_posix()


def load_documents(
    paths: Sequence[Path],
    home: Path,
    max_mb: float = 50,
    ocr: Ocr | None = None,
    known: Mapping[str, Document] | None = None,
    leave_out: Collection[str] = (),
    left_out: list[str] | None = None,
) -> tuple[list[Document], list[Skipped]]:
    """Every supported file under `paths` as a `Document`; the rest as `Skipped`, with reasons (see `load_file`).
    A file whose id is in `leave_out` is not read: its id goes to `left_out`."""
    documents: list[Document] = []
    skipped: list[Skipped] = []
    for path in iter_files(paths):
        if not path.exists():
            skipped.append(Skipped(str(path), "no such file or folder", "không có tệp hay thư mục này"))
            continue
        if leave_out and document_id(path, home.resolve()) in leave_out:
            if left_out is not None:
                left_out.append(document_id(path, home.resolve()))  # removed on purpose: not read at all
            continue
        result = load_file(path, home.resolve(), max_mb, ocr, known)
        if isinstance(result, Document):
            if any(d.id == result.id for d in documents):
                continue  # the same file reached twice (a folder and a file in it, or two spellings)
            documents.append(result)
        else:
            skipped.append(result)
    return documents, skipped

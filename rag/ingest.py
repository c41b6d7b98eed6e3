"""Documents in: the supported files under the given paths, read (`rag.readers`) and cleaned (`rag.cleaning`)
into `Document`s.

One unreadable file never stops the run: it is returned as `Skipped` with its reason, and so
is every unsupported file. Before a reader sees a file it must be a regular file (not a FIFO
or a device), not empty, and under the size limit (`RAG_MAX_DOCUMENT_MB`, checked by `stat`
before a byte is read). A document's id is its path relative to the home folder.
This module does not chunk, embed or index.
"""

from __future__ import annotations

import hashlib
import stat
from collections.abc import Iterable, Sequence
from pathlib import Path

from rag.cleaning import clean
from rag.readers import MB, READERS, SUPPORTED, ReadError
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


def load_file(path: Path, home: Path, max_mb: float = 50) -> Document | Skipped:
    """One file as a `Document`, or `Skipped` with the reason it could not be used; none over `max_mb` is read."""
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
        raw = READERS[suffix](path)
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
    title, date, source, text = clean(raw, fallback_title=path.stem)
    if not text:
        return Skipped(shown, "no text left after cleaning", "không còn chữ nào sau khi làm sạch")
    resolved = path.resolve()
    doc_id = resolved.relative_to(home).as_posix() if resolved.is_relative_to(home) else resolved.as_posix()
    return Document(doc_id, shown, title, date, source, text, content_hash)


def load_documents(paths: Sequence[Path], home: Path, max_mb: float = 50) -> tuple[list[Document], list[Skipped]]:
    """Every supported file under `paths` as a `Document`; the rest as `Skipped`, with reasons (see `load_file`)."""
    documents: list[Document] = []
    skipped: list[Skipped] = []
    for path in iter_files(paths):
        if not path.exists():
            skipped.append(Skipped(str(path), "no such file or folder", "không có tệp hay thư mục này"))
            continue
        result = load_file(path, home.resolve(), max_mb)
        if isinstance(result, Document):
            if any(d.id == result.id for d in documents):
                continue  # the same file reached twice (a folder and a file in it, or two spellings)
            documents.append(result)
        else:
            skipped.append(result)
    return documents, skipped

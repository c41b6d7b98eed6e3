"""The documents of a running app: list them, add uploaded files, remove one; retrieval sees each change at once.

Uploads are copied into `RAG_UPLOADS_DIR` under a sanitised name (no folders, no `..`,
no control characters; the same name again replaces that document), checked for type and size
first, then indexed incrementally by `rag.indexing` like `rag index FILE` would. After a
change the retriever is handed the new index; a search already running keeps the one it
started with. It does not parse documents (`rag.ingest`) or know about the UI.
"""

from __future__ import annotations

import re
import shutil
import threading
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath

from rag import indexing
from rag.config import Settings
from rag.progress import Progress
from rag.readers import SUPPORTED
from rag.retrieve import Retriever
from rag.storage import open_store
from rag.types import Skipped

UPLOAD_TYPES = tuple(sorted(SUPPORTED))
NAME_BYTES = 180  # longest file name kept, before the extension, in UTF-8 bytes (file systems allow 255)


@dataclass(frozen=True)
class Upload:
    """What became of the uploaded files: the index report plus files refused before indexing."""

    added: list[str]
    changed: list[str]
    unchanged: list[str]
    refused: list[Skipped]  # wrong type or too large: never copied
    skipped: list[Skipped]  # copied but unreadable or empty (`rag.ingest`): removed again
    chunks: int


def safe_name(name: str) -> str:
    """A file name that cannot leave its folder: the last path part, NFC, no control or separator characters.

    >>> safe_name("../../etc/passwd.txt")
    'passwd.txt'
    >>> safe_name("..\\\\Báo cáo\\x00 2024?.pdf")
    'Báo cáo 2024_.pdf'
    """
    name = PurePath(name.replace("\\", "/")).name
    name = unicodedata.normalize("NFC", name)
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = re.sub(r'[<>:"/|?*]', "_", name).strip().lstrip(".")
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    while len(stem.encode()) > NAME_BYTES:  # file systems count bytes; a Vietnamese letter can take 3
        stem = stem[:-1]
    stem = stem.strip() or "tai-lieu"
    return f"{stem}.{ext.lower()}" if ext else stem


class Library:
    def __init__(self, settings: Settings, retriever: Retriever) -> None:
        self.settings, self.retriever = settings, retriever
        self._writing = threading.Lock()  # one change at a time; readers never wait

    def check(self, name: str, size: int) -> str | None:
        """Why an upload of this name and size is refused, or None."""
        suffix = PurePath(name).suffix.lower()
        if suffix not in SUPPORTED:
            return f"loại tệp {suffix or '(không có đuôi)'} không được hỗ trợ; dùng {', '.join(UPLOAD_TYPES)}"
        limit = self.settings.max_upload_mb
        if size > limit * 1024 * 1024:
            return f"tệp {size / 1024 / 1024:.1f} MB lớn hơn giới hạn {limit:g} MB (RAG_MAX_UPLOAD_MB)"
        if size == 0:
            return "tệp rỗng"
        return None

    def add(self, files: Sequence[tuple[str, Path]], progress: Progress | None = None) -> Upload:
        """Copy (original name, temporary path) pairs into the uploads folder and index them.

        A name already in the folder is a new version of that document and replaces it; when the
        new version cannot be read or indexing fails, the previous file is put back.
        """
        refused: list[Skipped] = []
        accepted: dict[str, Path] = {}
        for name, path in files:
            stored = safe_name(name)
            why = self.check(stored, path.stat().st_size)  # the name it would be stored under is the one checked
            if why is None and stored in accepted:
                why = f"cùng tên với một tệp khác trong lần tải này ({stored})"
            if why:
                refused.append(Skipped(PurePath(name.replace("\\", "/")).name, why))
            else:
                accepted[stored] = path
        if not accepted:
            return Upload([], [], [], refused, [], self.retriever.size)
        folder = self.settings.uploads_path
        folder.mkdir(parents=True, exist_ok=True)
        with self._writing:
            placed: dict[Path, Path | None] = {}  # target -> the previous version, moved aside
            try:
                for name, path in accepted.items():
                    target = folder / name
                    previous = None
                    if (
                        target.exists() or target.is_symlink()
                    ):  # a link, even dangling, is moved aside: never written through
                        previous = target.with_name(f".{name}.{uuid.uuid4().hex[:8]}.previous")
                        target.replace(previous)
                    placed[target] = previous
                    shutil.copyfile(path, target)
                # an upload is asked for: a document removed earlier under this name comes back
                report = indexing.update(
                    list(placed), self.retriever.embedder, self.settings, progress=progress, restore=True
                )
            except BaseException:
                for target, previous in placed.items():  # as it was: no stray new file, no lost old one
                    _restore(target, previous)
                raise
            unreadable = {Path(skip.path).resolve() for skip in report.skipped}
            for target, previous in placed.items():
                if target.resolve() in unreadable:  # nothing of it is in the index: keep what was there
                    _restore(target, previous)
                elif previous is not None:
                    previous.unlink()
            self._reload()
        return Upload(report.added, report.changed, report.unchanged, refused, report.skipped, report.total_chunks)

    def remove(self, doc_id: str) -> bool:
        """Drop a document from the index, and its file when it was uploaded here; False when it was not indexed.
        The index remembers the removal: `make run` indexing `seeds/` again does not bring it back."""
        with self._writing:
            document = next((d for d, _ in self.retriever.current().documents() if d.id == doc_id), None)
            if not indexing.remove([doc_id], self.settings):
                return False
            self._reload()
            if document is not None:  # inside the lock: an upload of the same name waits for this
                path = Path(document.path).resolve()
                if path.is_relative_to(self.settings.uploads_path.resolve()):
                    path.unlink(missing_ok=True)
        return True

    def _reload(self) -> None:
        self.retriever.reload(open_store(self.settings))


def _restore(target: Path, previous: Path | None) -> None:
    """Put the previous version of an upload back (or remove the new file when there was none)."""
    if previous is not None:
        previous.replace(target)
    else:
        target.unlink(missing_ok=True)

"""Documents in: read .txt/.md/.html/.pdf/.docx files and clean them into `Document`s.

Reading: one reader a format, each a well-kept library (trafilatura for HTML, which
removes page boilerplate itself; pypdf; python-docx); text files that are not UTF-8 are
decoded from the encoding charset-normalizer detects (Windows-1258 and friends), or
reported. One unreadable file never stops the run: it is returned as `Skipped` with its
reason, and so is every unsupported file.

Hostile files are refused before a parser sees them, each with its reason: an empty
file, something that is not a regular file (a FIFO, a device), a file over the size
limit (`RAG_MAX_DOCUMENT_MB`, checked by `stat` before a byte is read), binary data in a
text or HTML file (a NUL byte without a UTF-16/32 byte-order mark, or control characters
in more than 1% of its first 100,000 characters), and a non-UTF-8 file under 64 bytes,
too short for its encoding to be told from noise. A .docx is a zip: its directory alone
is read first, and it is refused when it is no zip, when its parts would unpack to more
than 200 MB in all, or when a part over 10 MB unpacks to more than 200 times its packed
size (a zip bomb); nothing is decompressed to find out. A PDF with no text at all has no
text layer (scanned pages): the reason says to OCR it. Deeply nested HTML needs no
guard: libxml2 stops at 256 levels (text nested deeper is dropped, the text above kept)
and 100,000 nested tags take well under a second.

Cleaning, the same for every format, after `rag.text.normalize`:
- navigation blocks are dropped: a line that is exactly a known navigation heading
  ("Tin cùng chuyên mục", "Xem tin theo ngày", "Tin liên quan", …) and the list-like
  lines after it (bullets, or short lines that end without a stop), up to the next
  real paragraph. A document without such a heading loses nothing;
- the source attribution ("Nguồn …", "Theo: …" on a line of its own) and a line that is
  only a date become metadata and leave the text; a leading headline (short, no final
  stop) becomes the title;
- a paragraph, or a sentence of 30 characters or more, repeated inside the document is
  kept once (the first time): the seeds repeat whole paragraphs and parts of them.
This module does not chunk, embed or index.
"""

from __future__ import annotations

import codecs
import hashlib
import re
import stat
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rag.chunking import split_sentences
from rag.text import normalize
from rag.types import Document, Skipped

CLEANING_VERSION = 1  # bump when cleaning changes its output: the index rebuilds
TEXT_TYPES = frozenset({".txt", ".md", ".markdown"})
SUPPORTED = TEXT_TYPES | {".html", ".htm", ".pdf", ".docx"}
NAV_HEADINGS = frozenset(
    normalize(h).casefold()
    for h in (
        "Tin cùng chuyên mục",
        "Xem tin theo ngày",
        "Tin liên quan",
        "Tin khác",
        "Các tin khác",
        "Bài viết liên quan",
        "Tin mới",
        "Tin mới nhất",
        "Tin nổi bật",
        "Đọc nhiều",
        "Xem nhiều",
        "Có thể bạn quan tâm",
        "Xem thêm",
        "Bài liên quan",
        "Cùng chuyên mục",
    )
)
# "Nguồn: …", "Theo: …", or "Nguồn <site>: <url>"; not "Nguồn vốn …" or "Theo Chủ tịch …", which are content
SOURCE_LINE = re.compile(
    r"^(?:(?:nguồn|theo)\s*:\s*(?P<source>\S.*)|nguồn\s+(?P<site>[^:]{1,60}:\s*https?://\S+))$", re.IGNORECASE
)
DATE_LINE = re.compile(r"^(?:ngày\s+)?(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$", re.IGNORECASE)
FULL_DATE = re.compile(r"\b(\d{1,2})/(\d{1,2})/(\d{4})\b")
LIST_ITEM = re.compile(r"^[-–•*+]\s*")
SENTENCE_END = '.!?…:;"”)'
SHORT_LINE = 120
MB = 1024 * 1024
MIN_GUESS_BYTES = 64  # shorter non-UTF-8 files are not guessed at: random bytes pass for UTF-16 or Shift-JIS
CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")  # control characters, not tab, line or page breaks
BINARY_SHARE = 0.01  # more control characters than this share of the first BINARY_SAMPLE characters: binary
BINARY_SAMPLE = 100_000
BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))  # fmt: skip
DOCX_MAX_UNPACKED_MB = 200
DOCX_MAX_RATIO = 200  # a part over DOCX_RATIO_FROM_MB unpacking to more than this many times its packed size
DOCX_RATIO_FROM_MB = 10


class ReadError(Exception):
    """A file that cannot be read; the message is the reason shown to the user."""


@dataclass(frozen=True)
class Extracted:
    """Raw text out of a reader, with whatever metadata the format carries."""

    text: str
    title: str | None = None
    date: str | None = None


def decode(data: bytes) -> str:
    """UTF-8 (with or without BOM), UTF-16/32 with a BOM, else the encoding charset-normalizer detects; never binary.

    >>> decode("Hòa bình".encode("utf-16"))
    'Hòa bình'
    >>> decode(b"\\x7fELF\\x02\\x01\\x01\\x00\\x00")
    Traceback (most recent call last):
    rag.ingest.ReadError: binary data, not text (it has NUL bytes)
    """
    encoding = next((name for bom, name in BOMS if data.startswith(bom)), None)
    if encoding is not None:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            raise ReadError(f"starts like {encoding.upper()} text but is not; save it as UTF-8") from None
    elif b"\x00" in data:
        raise ReadError("binary data, not text (it has NUL bytes)")
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = _guess_encoding(data)
    sample = text[:BINARY_SAMPLE]
    if sample and CONTROL.subn("", sample)[1] > BINARY_SHARE * len(sample):
        raise ReadError("binary data, not text (it is full of control characters)")
    return text


def _guess_encoding(data: bytes) -> str:
    if len(data) < MIN_GUESS_BYTES:
        raise ReadError(f"not UTF-8, and too short ({len(data)} bytes) to tell its encoding; save it as UTF-8")
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise ReadError("not UTF-8, and its encoding could not be detected; save it as UTF-8")
    return str(best)


def read_text(path: Path) -> Extracted:
    text = decode(path.read_bytes())
    if path.suffix.lower() == ".txt":
        return Extracted(text)
    heading = re.search(r"^#\s+(.+)$", text, re.MULTILINE)
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", text)  # images
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)  # links keep their words
    text = re.sub(r"^\s{0,3}(#{1,6}|>)\s*", "", text, flags=re.MULTILINE)  # headings, quotes
    text = re.sub(r"(\*\*|__|`)", "", text)
    return Extracted(text, title=heading.group(1).strip() if heading else None)


def read_html(path: Path) -> Extracted:
    import trafilatura

    found = trafilatura.bare_extraction(decode(path.read_bytes()), with_metadata=True, include_comments=False)
    fields = found.as_dict() if found is not None and not isinstance(found, dict) else (found or {})
    if not fields.get("text"):
        raise ReadError("no article text found in this HTML page")
    return Extracted(str(fields["text"]), title=fields.get("title"), date=fields.get("date"))


def read_pdf(path: Path) -> Extracted:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):
            raise ReadError("the PDF is password-protected")
        pages = [page.extract_text() or "" for page in reader.pages]
        title = reader.metadata.title if reader.metadata else None
    except PdfReadError as exc:
        raise ReadError(f"not a readable PDF ({exc})") from None
    if not any(page.strip() for page in pages):
        raise ReadError("no text layer (scanned or image-only pages?); OCR it first, e.g. `ocrmypdf in.pdf out.pdf`")
    # PDF text is wrapped at the page width: join a line to the next when no sentence ends there
    text = re.sub(r"(?<=[^\s.!?…:;])\n(?=[^\W_A-Z]|[0-9(])", _join_if_lower, "\n\n".join(pages))
    return Extracted(text, title=title or None)


def _join_if_lower(match: re.Match[str]) -> str:
    following = match.string[match.end() : match.end() + 1]
    return " " if following.islower() or following.isdigit() or following == "(" else match.group()


def check_zip(path: Path) -> None:
    """Refuse a .docx that is no zip, or a zip bomb, from its directory alone: nothing is decompressed."""
    try:
        with zipfile.ZipFile(path) as archive:
            parts = archive.infolist()
    except zipfile.BadZipFile:
        raise ReadError("not a .docx (not a zip archive, or a truncated one)") from None
    unpacked = sum(part.file_size for part in parts)
    if unpacked > DOCX_MAX_UNPACKED_MB * MB:
        raise ReadError(
            f"would unpack to {unpacked / MB:,.0f} MB, over the {DOCX_MAX_UNPACKED_MB} MB allowed a .docx (a zip bomb?)"
        )
    for part in parts:
        if part.file_size > DOCX_RATIO_FROM_MB * MB and part.file_size > DOCX_MAX_RATIO * max(part.compress_size, 1):
            raise ReadError(
                f"its part {part.filename} would unpack to {part.file_size / MB:,.0f} MB, "
                f"{part.file_size // max(part.compress_size, 1):,} times its packed size (a zip bomb?)"
            )


def read_docx(path: Path) -> Extracted:
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    check_zip(path)
    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, KeyError, ValueError) as exc:
        raise ReadError(f"not a readable .docx file ({exc})") from None
    paragraphs = [p.text for p in document.paragraphs]
    title = document.core_properties.title or next(
        (p.text for p in document.paragraphs if p.style is not None and p.style.name in ("Title", "Heading 1")), None
    )
    return Extracted("\n".join(paragraphs), title=title or None)


READERS = {".html": read_html, ".htm": read_html, ".pdf": read_pdf, ".docx": read_docx}


def _is_list_like(line: str) -> bool:
    return bool(LIST_ITEM.match(line)) or (len(line) < SHORT_LINE and not line.endswith(tuple(SENTENCE_END)))


def drop_navigation(lines: Sequence[str]) -> list[str]:
    """Remove navigation headings and the list-like lines that follow them."""
    kept, in_nav = [], False
    for line in lines:
        if line.casefold().rstrip(":") in NAV_HEADINGS:
            in_nav = True
        elif not (in_nav and _is_list_like(line)):
            in_nav = False
            kept.append(line)
    return kept


def _iso(day: str, month: str, year: str) -> str | None:
    d, m = int(day), int(month)
    return f"{int(year):04d}-{m:02d}-{d:02d}" if 1 <= d <= 31 and 1 <= m <= 12 else None


def clean(raw: Extracted, fallback_title: str) -> tuple[str, str | None, str | None, str]:
    """(title, date, source, text) from a reader's output; see the module docstring for the rules."""
    lines = [line.strip() for line in normalize(raw.text, keep_lines=True).split("\n") if line.strip()]
    lines = drop_navigation(lines)
    source, date, body = None, raw.date, []
    for line in lines:
        if (m := SOURCE_LINE.match(line)) and len(line) < 300:
            source = source or m.group("source") or m.group("site")
        elif (m := DATE_LINE.match(line)) and _iso(*m.groups()):
            date = date or _iso(*m.groups())
        else:
            body.append(line)
    if date is None:
        for line in body[:3]:
            if (m := FULL_DATE.search(line)) and (date := _iso(*m.groups())):
                break
    title = normalize(raw.title or "") or None  # a blank title in a file's metadata is no title
    if len(body) > 1 and len(body[0]) <= 200 and not body[0].endswith(tuple(SENTENCE_END)):
        title = title or body[0]
        if body[0] == title:
            body = body[1:]
    if title is None:
        words = (body[0] if body else fallback_title).split()
        title = " ".join(words[:12]) + ("…" if len(words) > 12 else "")
    return title, date, source, "\n".join(drop_repeats(body))


def drop_repeats(paragraphs: Sequence[str], min_chars: int = 30) -> list[str]:
    """Keep each sentence of `min_chars` or more once: a repeated paragraph, or its repeated sentences, go.

    >>> long = "Câu thứ nhất này đủ dài để so sánh."
    >>> drop_repeats([long + " Câu hai.", "Mới.", long + " Câu ba.", "Mới."])
    ['Câu thứ nhất này đủ dài để so sánh. Câu hai.', 'Mới.', 'Câu ba.']
    """
    seen: set[str] = set()
    seen_paragraphs: set[str] = set()
    kept_paragraphs = []
    for paragraph in paragraphs:
        if paragraph.casefold() in seen_paragraphs:  # a repeated paragraph, however short (captions repeat)
            continue
        seen_paragraphs.add(paragraph.casefold())
        sentences = [paragraph[a:b] for a, b in split_sentences(paragraph)]
        kept = []
        for sentence in sentences:
            key = sentence.casefold()
            if len(key) >= min_chars and key in seen:
                continue
            seen.add(key)
            kept.append(sentence)
        if kept:
            kept_paragraphs.append(paragraph if len(kept) == len(sentences) else " ".join(kept))
    return kept_paragraphs


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
        return Skipped(shown, f"unsupported type {suffix or '(none)'}; supported: {', '.join(sorted(SUPPORTED))}")
    try:
        status = path.stat()
        if not stat.S_ISREG(status.st_mode):
            return Skipped(shown, "not a regular file (a pipe, a device or the like)")
        if status.st_size == 0:
            return Skipped(shown, "empty file (0 bytes)")
        if status.st_size > max_mb * MB:
            return Skipped(shown, f"{status.st_size / MB:.1f} MB, over the {max_mb:g} MB limit (RAG_MAX_DOCUMENT_MB)")
        content_hash = hashlib.sha256(path.read_bytes()).hexdigest()
        raw = read_text(path) if suffix in TEXT_TYPES else READERS[suffix](path)
    except ReadError as exc:
        return Skipped(shown, str(exc))
    except OSError as exc:
        return Skipped(shown, f"cannot read it ({exc.strerror or exc})")
    except Exception as exc:  # a parser's own failure on a damaged file must not stop the run
        return Skipped(shown, f"damaged or unreadable {suffix} file ({type(exc).__name__}: {exc})")
    title, date, source, text = clean(raw, fallback_title=path.stem)
    if not text:
        return Skipped(shown, "no text left after cleaning")
    resolved = path.resolve()
    doc_id = resolved.relative_to(home).as_posix() if resolved.is_relative_to(home) else resolved.as_posix()
    return Document(doc_id, shown, title, date, source, text, content_hash)


def load_documents(paths: Sequence[Path], home: Path, max_mb: float = 50) -> tuple[list[Document], list[Skipped]]:
    """Every supported file under `paths` as a `Document`; the rest as `Skipped`, with reasons (see `load_file`)."""
    documents: list[Document] = []
    skipped: list[Skipped] = []
    for path in iter_files(paths):
        if not path.exists():
            skipped.append(Skipped(str(path), "no such file or folder"))
            continue
        result = load_file(path, home.resolve(), max_mb)
        if isinstance(result, Document):
            if any(d.id == result.id for d in documents):
                continue  # the same file reached twice (a folder and a file in it, or two spellings)
            documents.append(result)
        else:
            skipped.append(result)
    return documents, skipped

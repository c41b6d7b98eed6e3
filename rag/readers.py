"""Reading files: one reader a format, and the checks that refuse hostile files before a parser sees them.

Each format has a well-kept library: trafilatura for HTML (it removes page boilerplate
itself), pypdf, python-docx; text files that are not UTF-8 are decoded from the encoding
charset-normalizer detects (Windows-1258 and friends), or reported. A reader returns the raw
text with the metadata its format carries (`Extracted`), or raises `ReadError` with the reason
a person is shown.

Hostile content is refused with its reason: binary data in a text or HTML file (a NUL byte
without a UTF-16/32 byte-order mark, or control characters in more than 1% of its first
100,000 characters), and a non-UTF-8 file under 64 bytes, too short for its encoding to be
told from noise. A .docx is a zip: its directory alone is read first, and it is refused when
it is no zip, when its parts would unpack to more than 200 MB in all, or when a part over 10 MB
unpacks to more than 200 times its packed size (a zip bomb); nothing is decompressed to find
out. A PDF with no text at all has no text layer (scanned pages): the reason says to OCR it.
Deeply nested HTML needs no guard: libxml2 stops at 256 levels (text nested deeper is dropped,
the text above kept) and 100,000 nested tags take well under a second.

This module does not clean text (`rag.cleaning`) or walk folders (`rag.ingest`).
"""

from __future__ import annotations

import codecs
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

TEXT_TYPES = frozenset({".txt", ".md", ".markdown"})
SUPPORTED = TEXT_TYPES | {".html", ".htm", ".pdf", ".docx"}
MB = 1024 * 1024
MIN_GUESS_BYTES = 64  # shorter non-UTF-8 files are not guessed at: random bytes pass for UTF-16 or Shift-JIS
CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")  # control characters, not tab, line or page breaks
BINARY_SHARE = 0.01  # more control characters than this share of the first BINARY_SAMPLE characters: binary
BINARY_SAMPLE = 100_000
BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
DOCX_MAX_UNPACKED_MB = 200
DOCX_MAX_RATIO = 200  # a part over DOCX_RATIO_FROM_MB unpacking to more than this many times its packed size
DOCX_RATIO_FROM_MB = 10


class ReadError(Exception):
    """A file that cannot be read; the message is the reason shown to the user, `vi` the same in Vietnamese."""

    def __init__(self, reason: str, vi: str) -> None:
        super().__init__(reason)
        self.vi = vi


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
    rag.readers.ReadError: binary data, not text (it has NUL bytes)
    """
    encoding = next((name for bom, name in BOMS if data.startswith(bom)), None)
    if encoding is not None:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            raise ReadError(
                f"starts like {encoding.upper()} text but is not; save it as UTF-8",
                f"bắt đầu như văn bản {encoding.upper()} nhưng không phải; hãy lưu tệp ở dạng UTF-8",
            ) from None
    elif b"\x00" in data:
        raise ReadError(
            "binary data, not text (it has NUL bytes)", "dữ liệu nhị phân, không phải văn bản (có byte NUL)"
        )
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = _guess_encoding(data)
    sample = text[:BINARY_SAMPLE]
    if sample and CONTROL.subn("", sample)[1] > BINARY_SHARE * len(sample):
        raise ReadError(
            "binary data, not text (it is full of control characters)",
            "dữ liệu nhị phân, không phải văn bản (đầy ký tự điều khiển)",
        )
    return text


def _guess_encoding(data: bytes) -> str:
    if len(data) < MIN_GUESS_BYTES:
        raise ReadError(
            f"not UTF-8, and too short ({len(data)} bytes) to tell its encoding; save it as UTF-8",
            f"không phải UTF-8 và quá ngắn ({len(data)} byte) để nhận ra bảng mã; hãy lưu tệp ở dạng UTF-8",
        )
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise ReadError(
            "not UTF-8, and its encoding could not be detected; save it as UTF-8",
            "không phải UTF-8 và không nhận ra được bảng mã; hãy lưu tệp ở dạng UTF-8",
        )
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
        raise ReadError(
            "no article text found in this HTML page", "không tìm thấy nội dung bài viết trong trang HTML này"
        )
    return Extracted(str(fields["text"]), title=fields.get("title"), date=fields.get("date"))


def read_pdf(path: Path) -> Extracted:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):
            raise ReadError("the PDF is password-protected", "tệp PDF có mật khẩu")
        pages = [page.extract_text() or "" for page in reader.pages]
        title = reader.metadata.title if reader.metadata else None
    except PdfReadError as exc:
        raise ReadError(f"not a readable PDF ({exc})", f"không đọc được tệp PDF ({exc})") from None
    if not any(page.strip() for page in pages):
        raise ReadError(
            "no text layer (scanned or image-only pages?); OCR it first, e.g. `ocrmypdf in.pdf out.pdf`",
            "tệp PDF không có lớp văn bản (trang quét hoặc chỉ có ảnh?); hãy nhận dạng chữ (OCR) trước, "
            "ví dụ `ocrmypdf in.pdf out.pdf`",
        )
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
        raise ReadError(
            "not a .docx (not a zip archive, or a truncated one)",
            "không phải tệp .docx (không phải tệp zip, hoặc tệp bị cắt cụt)",
        ) from None
    unpacked = sum(part.file_size for part in parts)
    if unpacked > DOCX_MAX_UNPACKED_MB * MB:
        raise ReadError(
            f"would unpack to {unpacked / MB:,.0f} MB, over the {DOCX_MAX_UNPACKED_MB} MB allowed a .docx "
            "(a zip bomb?)",
            f"giải nén sẽ ra {unpacked / MB:,.0f} MB, quá {DOCX_MAX_UNPACKED_MB} MB cho phép với tệp .docx (bom zip?)",
        )
    for part in parts:
        if part.file_size > DOCX_RATIO_FROM_MB * MB and part.file_size > DOCX_MAX_RATIO * max(part.compress_size, 1):
            ratio = part.file_size // max(part.compress_size, 1)
            raise ReadError(
                f"its part {part.filename} would unpack to {part.file_size / MB:,.0f} MB, "
                f"{ratio:,} times its packed size (a zip bomb?)",
                f"phần {part.filename} sẽ giải nén ra {part.file_size / MB:,.0f} MB, "
                f"gấp {ratio:,} lần khi nén (bom zip?)",
            )


def read_docx(path: Path) -> Extracted:
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    check_zip(path)
    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, KeyError, ValueError) as exc:
        raise ReadError(f"not a readable .docx file ({exc})", f"không đọc được tệp .docx ({exc})") from None
    paragraphs = [p.text for p in document.paragraphs]
    title = document.core_properties.title or next(
        (p.text for p in document.paragraphs if p.style is not None and p.style.name in ("Title", "Heading 1")), None
    )
    return Extracted("\n".join(paragraphs), title=title or None)


READERS: dict[str, Callable[[Path], Extracted]] = {
    **dict.fromkeys(TEXT_TYPES, read_text),
    ".html": read_html,
    ".htm": read_html,
    ".pdf": read_pdf,
    ".docx": read_docx,
}

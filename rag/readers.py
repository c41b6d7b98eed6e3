"""Reading files: one reader a format, and the checks that refuse hostile files before a parser sees them.

Each format has a well-kept library: trafilatura for HTML (it removes page boilerplate
itself), pypdf, Word files in `rag.word`; text files that are not UTF-8 are decoded from the
pre-Unicode Vietnamese encodings when `rag.legacy` recognises one (TCVN3, VNI), else from the
encoding charset-normalizer detects (Windows-1258 and friends), or reported. Scanned pages
(PDF pages without a text layer, and images) are read by OCR (`rag.ocr`) when Tesseract is
installed. A reader returns the raw text with the metadata its format carries (`Extracted`),
or raises `ReadError` with the reason a person is shown.

Hostile content is refused with its reason: binary data in a text or HTML file (a NUL byte
without a UTF-16/32 byte-order mark, or control characters in more than 1% of its first
100,000 characters), a non-UTF-8 file under 64 bytes, too short for its encoding to be
told from noise, and the scans `rag.ocr` bounds (too many pages, too many pixels, too slow).
A PDF with no text and no OCR has no text layer: the reason says what to install.
Deeply nested HTML needs no guard: libxml2 stops at 256 levels (text nested deeper is dropped,
the text above kept) and 100,000 nested tags take well under a second.

This module does not clean text (`rag.cleaning`) or walk folders (`rag.ingest`).
"""

from __future__ import annotations

import codecs
import logging
import re
from collections.abc import Callable
from pathlib import Path

from rag import legacy, word
from rag.errors import ReadError
from rag.ocr import INSTALL, Ocr, frame_count, image_frames, open_image, render_pdf_pages
from rag.types import Extracted

TEXT_TYPES = frozenset({".txt", ".md", ".markdown"})
IMAGE_TYPES = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff"})
SUPPORTED = TEXT_TYPES | IMAGE_TYPES | {".html", ".htm", ".pdf", ".docx", ".doc"}
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
OCR_BELOW_CHARS = 20  # a PDF page with fewer characters of text than this is read by OCR (a scan, maybe numbered)
Reader = Callable[[Path, Ocr | None], Extracted]
log = logging.getLogger(__name__)


def decode(data: bytes) -> tuple[str, str | None]:
    """UTF-8 (with or without BOM), UTF-16/32 with a BOM, else TCVN3 or VNI when `rag.legacy` recognises them,
    else the encoding charset-normalizer detects; never binary. The text, and the legacy encoding it was in.

    >>> decode("Hòa bình".encode("utf-16"))
    ('Hòa bình', None)
    >>> decode(b"\\x7fELF\\x02\\x01\\x01\\x00\\x00")
    Traceback (most recent call last):
    rag.errors.ReadError: binary data, not text (it has NUL bytes)
    """
    encoding = next((name for bom, name in BOMS if data.startswith(bom)), None)
    found: str | None = None
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
            text, found = _guess_encoding(data)
    sample = text[:BINARY_SAMPLE]
    if sample and CONTROL.subn("", sample)[1] > BINARY_SHARE * len(sample):
        raise ReadError(
            "binary data, not text (it is full of control characters)",
            "dữ liệu nhị phân, không phải văn bản (đầy ký tự điều khiển)",
        )
    return text, found


def _guess_encoding(data: bytes) -> tuple[str, str | None]:
    if len(data) < MIN_GUESS_BYTES:
        raise ReadError(
            f"not UTF-8, and too short ({len(data)} bytes) to tell its encoding; save it as UTF-8",
            f"không phải UTF-8 và quá ngắn ({len(data)} byte) để nhận ra bảng mã; hãy lưu tệp ở dạng UTF-8",
        )
    found = legacy.decode_bytes(data)
    if found is not None:  # TCVN3 or VNI
        return found
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise ReadError(
            "not UTF-8, and its encoding could not be detected; save it as UTF-8",
            "không phải UTF-8 và không nhận ra được bảng mã; hãy lưu tệp ở dạng UTF-8",
        )
    return str(best), None


def read_text(path: Path, ocr: Ocr | None = None) -> Extracted:
    text, encoding = decode(path.read_bytes())
    if path.suffix.lower() == ".txt":
        return Extracted(text, encoding=encoding)
    heading = re.search(r"^#\s+(.+)$", text, re.MULTILINE)
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", text)  # images
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)  # links keep their words
    text = re.sub(r"^\s{0,3}(#{1,6}|>)\s*", "", text, flags=re.MULTILINE)  # headings, quotes
    text = re.sub(r"(\*\*|__|`)", "", text)
    return Extracted(text, title=heading.group(1).strip() if heading else None, encoding=encoding)


def read_html(path: Path, ocr: Ocr | None = None) -> Extracted:
    import trafilatura

    page, encoding = decode(path.read_bytes())
    found = trafilatura.bare_extraction(page, with_metadata=True, include_comments=False)
    fields = found.as_dict() if found is not None and not isinstance(found, dict) else (found or {})
    if not fields.get("text"):
        raise ReadError(
            "no article text found in this HTML page", "không tìm thấy nội dung bài viết trong trang HTML này"
        )
    return Extracted(str(fields["text"]), title=fields.get("title"), date=fields.get("date"), encoding=encoding)


def read_pdf(path: Path, ocr: Ocr | None = None) -> Extracted:
    """The text layer of each page; a page without one is read by OCR when there is one (else left out)."""
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
    scanned = [i for i, page in enumerate(pages) if len(page.strip()) < OCR_BELOW_CHARS]
    read = 0
    if scanned and ocr is not None:
        try:
            texts = ocr.pages(path.name, len(scanned), lambda: render_pdf_pages(path, scanned, ocr.dpi))
        except ReadError as exc:
            if len(scanned) == len(pages):
                raise
            # the pages with a text layer are not lost with the scanned ones
            log.warning(
                "%s: %d pages without text were not read by OCR (%s); the others are", path.name, len(scanned), exc
            )
        else:
            for i, text in zip(scanned, texts, strict=True):
                pages[i] = text
            read = len(scanned)
    elif not any(page.strip() for page in pages):
        raise ReadError(
            f"no text layer (scanned or image-only pages?); to read it by OCR, {INSTALL} (and leave RAG_OCR on)",
            "tệp PDF không có lớp văn bản (trang quét hoặc chỉ có ảnh?); để nhận dạng chữ (OCR), hãy cài "
            "Tesseract và dữ liệu tiếng Việt: `apt-get install tesseract-ocr tesseract-ocr-vie`",
        )
    return Extracted(join_lines("\n\n".join(pages)), title=title or None, ocr_pages=read)


def read_image(path: Path, ocr: Ocr | None = None) -> Extracted:
    """A scanned page (or a multi-page TIFF) read by OCR."""
    if ocr is None:
        raise ReadError(
            f"an image: its text can only be read by OCR; {INSTALL} (and leave RAG_OCR on)",
            "tệp ảnh: chỉ đọc được chữ bằng nhận dạng chữ (OCR); hãy cài Tesseract và dữ liệu tiếng Việt: "
            "`apt-get install tesseract-ocr tesseract-ocr-vie`",
        )
    with open_image(path) as image:
        count = frame_count(image, ocr.max_pages)  # over the limit: refused by `pages` before a frame is decoded
        texts = ocr.pages(path.name, count, lambda: image_frames(image))
    return Extracted(join_lines("\n\n".join(texts)), ocr_pages=count)


def join_lines(text: str) -> str:
    """Lines wrapped at a page's width joined again: a line break where no sentence ends, before a lower-case
    letter, a digit or "(", becomes a space.

    >>> join_lines("Văn phòng Quốc hội\\nđã tổ chức hội nghị.\\nSau đó")
    'Văn phòng Quốc hội đã tổ chức hội nghị.\\nSau đó'
    """
    return re.sub(r"(?<=[^\s.!?…:;])\n(?=[^\W_A-Z]|[0-9(])", _join_if_lower, text)


def _join_if_lower(match: re.Match[str]) -> str:
    following = match.string[match.end() : match.end() + 1]
    return " " if following.islower() or following.isdigit() or following == "(" else match.group()


READERS: dict[str, Reader] = {
    **dict.fromkeys(TEXT_TYPES, read_text),
    **dict.fromkeys(IMAGE_TYPES, read_image),
    ".html": read_html,
    ".htm": read_html,
    ".pdf": read_pdf,
    ".docx": word.read_docx,
    ".doc": word.read_doc,
}

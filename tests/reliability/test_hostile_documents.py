"""Hostile documents: empty, binary, over the size limit, deeply nested HTML, PDFs without text, fake .docx, zip bombs.

Each is skipped with its reason by `rag index` and refused or skipped by an upload in the app; the good
documents beside them are indexed, and nothing raises. Big files cost little here: the one over the size
limit is sparse, the zip bombs hold zeros (a few hundred KB on disk).
"""

from __future__ import annotations

import functools
import io
import os
import random
import struct
import threading
import time
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import docx
import pytest
from conftest import FakeEmbedder, Tally
from pypdf import PdfWriter
from pypdf.generic import ContentStream

from rag import indexing, store
from rag.config import Settings, load_settings
from rag.ingest import MB, load_file
from rag.library import Library
from rag.retrieve import Retriever
from rag.types import Document, Skipped

ARTICLE = "Sáng 7/9, tại Nhà Quốc hội, cuộc họp giao ban giữa lãnh đạo Văn phòng Quốc hội với các vụ đã diễn ra."
GOOD = {
    "ngan-sach.txt": "Dự toán ngân sách\n\nQuốc hội thông qua dự toán ngân sách nhà nước năm 2024, tổng thu tăng mạnh.",
    "giao-duc.md": "# Giáo dục phổ thông\n\nChương trình giáo dục phổ thông mới được triển khai ở mọi tỉnh.",
    "giao-ban.html": f"<html><head><title>Họp giao ban</title></head><body><article><p>{ARTICLE}</p></article></body>",
    "cao-toc.docx": "Dự án cao tốc Bắc Nam có tổng vốn đầu tư lớn và đi qua nhiều tỉnh.",
}
NOISE = b"\xfd?\xeb<\x92P\xb7\x97J\x9bR\x8bicc!\xa4a\xb5^"  # not UTF-8; charset-normalizer calls it cp775
ELF = b"\x7fELF\x02\x01\x01\x00" + bytes(8) + b"\x02\x00\x3e\x00" + bytes(range(256)) * 4
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00\x00\x00\x01\x00\x08\x06\x00\x00\x00" + bytes(1000)


def write_good(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in GOOD.items():
        if name.endswith(".docx"):
            document = docx.Document()
            document.add_heading("Cao tốc Bắc Nam", level=1)
            document.add_paragraph(text)
            document.save(str(folder / name))
        else:
            (folder / name).write_text(text, encoding="utf-8")


def sparse(path: Path, size: int) -> None:
    with path.open("wb") as file:
        file.truncate(size)


def nested_html(levels: int, closed: bool = True, above: str = "") -> str:
    return f"<html><body>{above}{'<div>' * levels}<p>{ARTICLE}</p>{'</div>' * levels if closed else ''}</body></html>"


def pdf(path: Path, drawing: bytes | None) -> None:
    """A one-page PDF without text: blank, or with a drawing (a filled rectangle) on it."""
    writer = PdfWriter()
    page = writer.add_blank_page(595, 842)
    if drawing is not None:
        stream = ContentStream(None, writer)
        stream.set_data(drawing)
        page.replace_contents(stream)
    writer.write(path)


@functools.cache
def zip_of_zeros(parts: tuple[tuple[str, int], ...]) -> bytes:
    """A zip whose parts hold this many MB of zeros each (made once: deflating 225 MB takes half a second)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        for name, megabytes in parts:
            with archive.open(name, "w", force_zip64=True) as part:
                for _ in range(megabytes):
                    part.write(bytes(MB))
    return out.getvalue()


def truncated_docx(path: Path) -> None:
    document = docx.Document()
    document.add_paragraph(ARTICLE * 20)
    whole = io.BytesIO()
    document.save(whole)
    path.write_bytes(whole.getvalue()[: len(whole.getvalue()) // 2])


CUT_TIFF = b"II*\x00\x08\x00\x00\x00\x01\x00\x00\x01\x03\x00\x01\x00\x00\x00\x10\x27\x00\x00"  # a cut directory


def blank_pdf(pages: int) -> bytes:
    """A PDF of `pages` empty A4 pages: nothing to read but by OCR."""
    writer, out = PdfWriter(), io.BytesIO()
    for _ in range(pages):
        writer.add_blank_page(595, 842)
    writer.write(out)
    return out.getvalue()


def png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims `width` × `height` pixels, with one tiny data chunk."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 64))


BOMB = tuple((f"word/media/image{i}.png", 9) for i in range(25))  # 225 MB; no part over 10 MB
DENSE = (("word/document.xml", 20),)  # one part, about 1,000 times its packed size
NOT_ZIP = "not a .docx (not a zip archive, or a truncated one)"
NO_TEXT_LAYER = "no text layer (scanned or image-only pages?); to read it by OCR, install Tesseract"
NO_OCR = "an image: its text can only be read by OCR; install Tesseract"
BINARY = "binary data, not text (it has NUL bytes)"
EMPTY = "empty file (0 bytes)"
EMPTIES = [f"empty.{ext}" for ext in ("txt", "md", "html", "pdf", "docx")]

# name -> (how to make it, the start of the reason it is skipped with)
HOSTILE: dict[str, tuple[Callable[[Path], object], str]] = {
    "huge.txt": (lambda p: sparse(p, 64 * MB), "64.0 MB, over the 50 MB limit (RAG_MAX_DOCUMENT_MB)"),
    **{name: (lambda p: p.write_bytes(b""), EMPTY) for name in EMPTIES},
    "random.txt": (lambda p: p.write_bytes(random.Random(0).randbytes(4096)), BINARY),
    "program.md": (lambda p: p.write_bytes(ELF), BINARY),
    "picture.md": (lambda p: p.write_bytes(PNG), BINARY),
    "zeros.html": (lambda p: p.write_bytes(bytes(4096)), BINARY),
    "controls.txt": (
        lambda p: p.write_bytes(b"\x01\x02\x03\x1b[0m data\x04\x05" * 200),
        "binary data, not text (it is full of control characters)",
    ),
    "noise.txt": (
        lambda p: p.write_bytes(NOISE),
        "not UTF-8, and too short (20 bytes) to tell its encoding; save it as UTF-8",
    ),
    "nested.html": (
        lambda p: p.write_text(nested_html(100_000), encoding="utf-8"),
        "no article text found in this HTML page",
    ),
    "blank.pdf": (lambda p: pdf(p, None), NO_TEXT_LAYER),
    "rectangle.pdf": (lambda p: pdf(p, b"0.5 g 72 72 451 698 re f"), NO_TEXT_LAYER),
    "text.docx": (lambda p: p.write_text("Văn bản thường, đổi đuôi thành .docx.", encoding="utf-8"), NOT_ZIP),
    "truncated.docx": (truncated_docx, NOT_ZIP),
    "bomb.docx": (
        lambda p: p.write_bytes(zip_of_zeros(BOMB)),
        "would unpack to 225 MB, over the 200 MB allowed a .docx (a zip bomb?)",
    ),
    "dense.docx": (lambda p: p.write_bytes(zip_of_zeros(DENSE)), "its part word/document.xml would unpack to 20 MB, "),
    # hostile scans: read without OCR here, with it where `rag index` finds Tesseract (`WITH_OCR`)
    "pages.pdf": (lambda p: p.write_bytes(blank_pdf(10_000)), NO_TEXT_LAYER),
    "huge.png": (lambda p: p.write_bytes(png_header(100_000, 100_000)), NO_OCR),
    "corrupt.tiff": (lambda p: p.write_bytes(b"II*\x00" + b"\xff" * 200), NO_OCR),
    "cut.tiff": (lambda p: p.write_bytes(CUT_TIFF), NO_OCR),
}
# the reasons when the files are read with OCR (Tesseract installed, as `make test` does)
WITH_OCR = {
    "blank.pdf": "no text left after cleaning",
    "rectangle.pdf": "no text left after cleaning",
    "pages.pdf": "10,000 scanned pages, over the 300 read by OCR (RAG_OCR_MAX_PAGES)",
    "huge.png": "an image of over 179 million pixels (a decompression bomb?), over the 40 million read by OCR",
    "corrupt.tiff": "not a readable image (",
    "cut.tiff": "not a readable image (cannot identify image file cut.tiff)",
}


def with_ocr(name: str) -> str:
    """The start of the reason `name` is skipped with where Tesseract is installed."""
    return WITH_OCR.get(name, HOSTILE[name][1])


def write_hostile(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    for name, (make, _) in HOSTILE.items():
        make(folder / name)
    return {name: folder / name for name in HOSTILE}


def settings(home: Path, **overrides: object) -> Settings:
    return Settings(home=home, index_dir=Path("index"), chunk_tokens=40, chunk_overlap=5, **overrides)  # type: ignore[arg-type]


# --- one file at a time ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", HOSTILE)
def test_each_hostile_file_is_skipped_with_its_reason(name: str, tmp_path: Path, tally: Tally) -> None:
    path = tmp_path / name
    HOSTILE[name][0](path)
    result = load_file(path, tmp_path)
    tally.add("hostile documents tried")
    assert isinstance(result, Skipped), result
    assert result.reason.startswith(HOSTILE[name][1])


def test_the_short_noise_would_pass_for_text_without_the_length_rule() -> None:
    from charset_normalizer import from_bytes

    assert from_bytes(NOISE).best() is not None  # so the rule, not the detector, refuses it


def test_utf16_text_with_a_byte_order_mark_is_text_not_binary(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes("Văn bản UTF-16\n\nQuốc hội họp phiên bế mạc.".encode("utf-16"))
    result = load_file(tmp_path / "a.txt", tmp_path)
    assert isinstance(result, Document) and result.text == "Quốc hội họp phiên bế mạc."


@pytest.mark.parametrize("closed", [True, False], ids=["closed", "unclosed"])
def test_deeply_nested_html_is_read_in_well_under_a_second_keeping_the_text_above_the_depth_limit(
    closed: bool, tmp_path: Path, tally: Tally
) -> None:
    top = "Quốc hội thông qua dự toán ngân sách nhà nước năm 2024 với tổng thu tăng mạnh so với năm trước."
    path = tmp_path / "deep.html"
    path.write_text(nested_html(100_000, closed, above=f"<p>{top}</p>"), encoding="utf-8")
    started = time.perf_counter()
    result = load_file(path, tmp_path)
    seconds = time.perf_counter() - started
    tally.add("hostile documents tried")
    tally.figure(f"100,000 nested <div> ({'closed' if closed else 'unclosed'}) read in", f"{seconds:.2f} s")
    assert isinstance(result, Document) and result.text.startswith(top)  # libxml2 keeps 256 levels; the rest goes
    assert seconds < 10


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_pipe_named_like_a_document_is_not_read(tmp_path: Path, tally: Tally) -> None:
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    results: list[Document | Skipped] = []
    reader = threading.Thread(target=lambda: results.append(load_file(fifo, tmp_path)), daemon=True)
    reader.start()
    reader.join(10)
    if reader.is_alive():  # it opened the pipe to read and waits for a writer: give it one, so the test ends
        os.close(os.open(fifo, os.O_WRONLY))
        reader.join(10)
    tally.add("hostile documents tried")
    assert results == [Skipped(str(fifo), "not a regular file (a pipe, a device or the like)")]


def test_the_size_limit_comes_from_the_setting(isolated: Path, monkeypatch: pytest.MonkeyPatch, tally: Tally) -> None:
    write_good(isolated / "docs")
    sparse(isolated / "docs" / "big.md", 2 * MB)
    monkeypatch.setenv("RAG_MAX_DOCUMENT_MB", "1.5")
    report = indexing.update([isolated / "docs"], FakeEmbedder(), load_settings(chunk_tokens=40, chunk_overlap=5))
    tally.add("hostile documents tried")
    assert [(Path(s.path).name, s.reason) for s in report.skipped] == [
        ("big.md", "2.0 MB, over the 1.5 MB limit (RAG_MAX_DOCUMENT_MB)")
    ]
    assert sorted(report.added) == sorted(f"docs/{name}" for name in GOOD)


# --- a whole folder, and an upload ------------------------------------------------------------------------------


def test_rag_index_skips_every_hostile_file_with_its_reason_and_indexes_the_rest(isolated: Path, tally: Tally) -> None:
    write_good(isolated / "docs")
    write_hostile(isolated / "hostile")
    config = settings(isolated)
    report = indexing.update([isolated / "docs", isolated / "hostile"], FakeEmbedder(), config)

    reasons = {Path(s.path).name: s.reason for s in report.skipped}
    tally.add("hostile documents tried", len(reasons))
    assert sorted(reasons) == sorted(HOSTILE)
    for name in HOSTILE:
        assert reasons[name].startswith(with_ocr(name)), (name, reasons[name])
    index = store.load(config.index_path)
    lost = [name for name in GOOD if f"docs/{name}" not in index.documents]
    tally.add("documents lost", len(lost))
    assert lost == []
    assert sorted(index.documents) == sorted(f"docs/{name}" for name in GOOD)
    assert {c.doc_id for c in index.chunks} == set(index.documents)
    assert not any("\x00" in c.text for c in index.chunks)
    hits = Retriever(index, FakeEmbedder()).search("dự toán ngân sách nhà nước", k=1)
    assert hits[0].chunk.doc_id == "docs/ngan-sach.txt"


def test_an_upload_of_hostile_files_is_refused_or_skipped_and_the_library_keeps_its_documents(
    isolated: Path, tmp_path_factory: pytest.TempPathFactory, tally: Tally
) -> None:
    write_good(isolated / "docs")
    config = settings(isolated)
    embedder = FakeEmbedder()
    indexing.update([isolated / "docs"], embedder, config)
    library = Library(config, Retriever(store.load(config.index_path), embedder))
    incoming = tmp_path_factory.mktemp("incoming")
    files = write_hostile(incoming)
    (incoming / "moi.txt").write_text("Hồ Tây\n\nHồ Tây rộng 500 hecta, nằm ở Hà Nội.", encoding="utf-8")

    result = library.add([*files.items(), ("moi.txt", incoming / "moi.txt")])

    refused = {s.path: s.reason for s in result.refused}
    skipped = {Path(s.path).name: s.reason for s in result.skipped}
    tally.add("hostile documents tried", len(refused) + len(skipped))
    assert refused == {
        "huge.txt": "tệp 64.0 MB lớn hơn giới hạn 20 MB (RAG_MAX_UPLOAD_MB)",  # the upload limit comes first
        **{name: "tệp rỗng" for name in EMPTIES},
    }
    assert sorted(skipped) == sorted(set(HOSTILE) - set(refused))
    for name, reason in skipped.items():
        assert reason.startswith(with_ocr(name)), (name, reason)
    assert result.added == ["data/uploads/moi.txt"]
    assert [p.name for p in config.uploads_path.iterdir()] == ["moi.txt"]  # nothing hostile is kept
    documents = library.retriever.index.documents
    lost = [name for name in GOOD if f"docs/{name}" not in documents]
    tally.add("documents lost", len(lost))
    assert lost == []
    assert sorted(documents) == sorted([*(f"docs/{name}" for name in GOOD), "data/uploads/moi.txt"])
    assert library.retriever.search("Hồ Tây rộng bao nhiêu", k=1)[0].chunk.doc_id == "data/uploads/moi.txt"

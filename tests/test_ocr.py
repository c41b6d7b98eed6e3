"""OCR with the real Tesseract and its Vietnamese model (Debian's packages; `make test` installs them): pages
rendered from known text, read back within the character error rate the issue set (3%), and hostile scans
bounded and skipped with their reasons."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import FakeEmbedder

from bench.scans import PAGES, cer, page_image, scanned_pdf
from rag import indexing
from rag.config import Settings
from rag.ingest import load_file
from rag.ocr import MAX_PIXELS, Ocr
from rag.types import Document, Skipped

MAX_CER = 0.03


def mixed_pdf(path: Path, scan: Path) -> Path:
    """A PDF of a page with a text layer ("… passed 17 laws in 2020.") and a scanned page (`PAGES[0]`)."""
    from io import BytesIO

    from pypdf import PdfReader, PdfWriter
    from test_ingest import minimal_pdf

    writer = PdfWriter()
    writer.add_page(PdfReader(BytesIO(minimal_pdf("Annual report. The office passed 17 laws in 2020."))).pages[0])
    writer.add_page(PdfReader(scanned_pdf(scan, PAGES[:1])).pages[0])
    with path.open("wb") as f:
        writer.write(f)
    return path


def read_back(document: Document) -> str:
    """The text OCR read: a headline it found is the title, out of the text; a derived title is in the text too."""
    return document.text if document.title_derived else document.title + "\n" + document.text


class Recorder:
    def __init__(self) -> None:
        self.steps: list[tuple[str, int | None, str]] = []
        self.advanced = 0

    def step(self, label: str, total: int | None = None, unit: str = "B") -> None:
        self.steps.append((label, total, unit))

    def advance(self, amount: int) -> None:
        self.advanced += amount


@pytest.fixture
def ocr() -> Ocr:
    found = Ocr()  # one a test: `progress` and the counts are its own
    assert found.available(), "Tesseract with its Vietnamese model is needed: `make test` installs it"
    return found


def test_a_scanned_pdf_is_read_within_the_error_rate_with_a_bar_per_page(tmp_path: Path, ocr: Ocr) -> None:
    pdf = scanned_pdf(tmp_path / "scan.pdf", PAGES)
    recorder = Recorder()
    ocr.progress = recorder
    document = load_file(pdf, tmp_path, ocr=ocr)
    assert isinstance(document, Document), document
    assert document.ocr_pages == len(PAGES)
    assert recorder.steps == [(f"OCR of scan.pdf ({len(PAGES)} pages)", len(PAGES), "pages")]
    assert recorder.advanced == len(PAGES)
    assert cer(read_back(document), "\n".join(PAGES)) <= MAX_CER


def test_an_image_is_read_by_ocr(tmp_path: Path, ocr: Ocr) -> None:
    path = tmp_path / "trang.png"
    page_image(PAGES[0], font="DejaVuSans.ttf").save(path)
    document = load_file(path, tmp_path, ocr=ocr)
    assert isinstance(document, Document), document
    assert cer(read_back(document), PAGES[0]) <= MAX_CER
    assert document.ocr_pages == 1


def test_a_multi_page_tiff_is_read_page_by_page(tmp_path: Path, ocr: Ocr) -> None:
    path = tmp_path / "hai-trang.tiff"
    first, second = page_image(PAGES[0]), page_image(PAGES[1])
    first.save(path, save_all=True, append_images=[second], compression="tiff_lzw")
    document = load_file(path, tmp_path, ocr=ocr)
    assert isinstance(document, Document), document
    assert document.ocr_pages == 2 and "hồ sơ mới" in document.text


def test_without_tesseract_a_scan_is_skipped_saying_what_to_install(tmp_path: Path) -> None:
    pdf = scanned_pdf(tmp_path / "scan.pdf", PAGES[:1])
    missing = Ocr(binary="no-such-tesseract")
    assert not missing.available()
    for path in (pdf, tmp_path / "anh.png"):
        if path.suffix == ".png":
            page_image("Trang quét").save(path)
        skipped = load_file(path, tmp_path, ocr=None)
        assert isinstance(skipped, Skipped)
        assert "apt-get install tesseract-ocr tesseract-ocr-vie" in skipped.reason


def test_ocr_turned_off_or_missing_gives_no_ocr(tmp_path: Path) -> None:
    assert Ocr.from_settings(Settings(home=tmp_path, ocr=False)) is None
    assert Ocr.from_settings(Settings(home=tmp_path, ocr_language="xyz")) is None  # no such model installed
    assert Ocr.from_settings(Settings(home=tmp_path)) is not None


def blank_pdf(pages: int, width: float = 595, height: float = 842) -> bytes:
    from io import BytesIO

    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width, height)
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


def many_frames_tiff(path: Path) -> None:
    from PIL import Image

    frames = [Image.new("L", (8, 8), 255) for _ in range(2_000)]
    frames[0].save(path, save_all=True, append_images=frames[1:])


@pytest.mark.parametrize(
    ("name", "make", "reason"),
    [
        ("huge.pdf", lambda p: p.write_bytes(blank_pdf(10_000)), "10,000 scanned pages, over the 300 read by OCR"),
        ("nhieu.tiff", many_frames_tiff, "more than 300 scanned pages, over the 300 read by OCR"),  # not all counted
    ],
)
def test_too_many_scanned_pages_are_refused_before_any_is_read(
    tmp_path: Path, ocr: Ocr, name: str, make: Callable[[Path], object], reason: str
) -> None:
    path = tmp_path / name
    make(path)
    recorder = Recorder()
    ocr.progress = recorder
    skipped = load_file(path, tmp_path, ocr=ocr)
    assert isinstance(skipped, Skipped)
    assert skipped.reason.startswith(reason + " (RAG_OCR_MAX_PAGES)")
    assert recorder.advanced == 0


def test_a_huge_page_is_rendered_within_the_pixel_limit(tmp_path: Path, ocr: Ocr) -> None:
    from rag.ocr import render_pdf_pages

    path = tmp_path / "poster.pdf"
    path.write_bytes(blank_pdf(1, 14_400, 14_400))  # 200 × 200 inches: 3.6 billion pixels at 300 dpi
    (image,) = render_pdf_pages(path, [0], 300)
    assert image.width * image.height <= MAX_PIXELS and image.width > 1000
    assert isinstance(load_file(path, tmp_path, ocr=ocr), Skipped)  # blank: no text left after cleaning


def png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims `width` × `height` pixels, with one tiny truncated data chunk."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 64))


def test_a_huge_image_is_refused_from_its_header(tmp_path: Path, ocr: Ocr) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(png_header(100_000, 100_000))  # past Pillow's own limit: it refuses to open it
    skipped = load_file(path, tmp_path, ocr=ocr)
    assert isinstance(skipped, Skipped)
    assert skipped.reason.startswith("an image of over 179 million pixels (a decompression bomb?)")
    path.write_bytes(png_header(10_000, 10_000))  # under Pillow's limit, over ours
    skipped = load_file(path, tmp_path, ocr=ocr)
    assert isinstance(skipped, Skipped)
    assert skipped.reason == "an image of 10,000 × 10,000 pixels, over the 40 million read by OCR"


@pytest.mark.parametrize(
    "data",
    [
        b"II*\x00" + b"\xff" * 200,  # a TIFF header, then garbage
        b"II*\x00\x08\x00\x00\x00\x01\x00\x00\x01\x03\x00\x01\x00\x00\x00\x10\x27\x00\x00",  # a cut directory
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 40,
        b"\xff\xd8\xff\xe0" + b"\x00" * 30,  # a JPEG start, nothing else
    ],
)
def test_a_corrupt_image_is_skipped_with_its_reason(tmp_path: Path, ocr: Ocr, data: bytes) -> None:
    suffix = ".tiff" if data.startswith(b"II") else ".png" if data.startswith(b"\x89") else ".jpg"
    path = tmp_path / f"hong{suffix}"
    path.write_bytes(data)
    skipped = load_file(path, tmp_path, ocr=ocr)
    assert isinstance(skipped, Skipped)
    assert skipped.reason.startswith(("not a readable image (", "a damaged image (")), skipped.reason
    assert skipped.vi.startswith(("không đọc được ảnh (", "ảnh bị hỏng ("))


def test_a_huge_later_page_of_a_tiff_is_refused_from_its_header(tmp_path: Path, ocr: Ocr) -> None:
    from PIL import Image

    path = tmp_path / "sau.tiff"
    Image.new("L", (8, 8), 255).save(path, save_all=True, append_images=[Image.new("1", (8_000, 6_000), 1)])
    skipped = load_file(path, tmp_path, ocr=ocr)
    assert isinstance(skipped, Skipped)
    assert skipped.reason == "an image of 8,000 × 6,000 pixels, over the 40 million read by OCR"


def test_an_image_named_png_in_another_format_is_not_opened(tmp_path: Path, ocr: Ocr) -> None:
    from PIL import Image

    path = tmp_path / "anh.png"
    Image.new("RGB", (64, 64), "white").save(path, "GIF")  # Pillow would open it: rag reads PNG, JPEG, TIFF only
    skipped = load_file(path, tmp_path, ocr=ocr)
    assert isinstance(skipped, Skipped) and skipped.reason.startswith("not a readable image (")


def test_a_page_over_its_time_is_stopped(tmp_path: Path) -> None:
    slow = Ocr(page_timeout_s=0.001)
    pdf = scanned_pdf(tmp_path / "scan.pdf", PAGES[:1])
    skipped = load_file(pdf, tmp_path, ocr=slow)
    assert isinstance(skipped, Skipped)
    assert skipped.reason == "a page took Tesseract over 0.001 s (RAG_OCR_PAGE_TIMEOUT_S)"


def test_indexing_reports_ocr_pages_and_does_not_read_an_unchanged_scan_again(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    scanned_pdf(docs / "scan.pdf", PAGES[:1])
    (docs / "a.txt").write_text("Văn bản thường có lớp chữ, không cần nhận dạng.", encoding="utf-8")
    settings = Settings(home=tmp_path, index_dir=Path("index"))
    first = indexing.update([docs], FakeEmbedder(), settings)
    assert first.ocr_pages == 1 and first.ocr_seconds > 0 and sorted(first.added) == ["docs/a.txt", "docs/scan.pdf"]
    again = indexing.update([docs], FakeEmbedder(), settings)
    assert again.ocr_pages == 0 and sorted(again.unchanged) == ["docs/a.txt", "docs/scan.pdf"]
    rebuilt = indexing.update([docs], FakeEmbedder(), settings, rebuild=True)  # asked for: everything read again
    assert rebuilt.ocr_pages == 1


def test_a_pdf_read_before_ocr_was_installed_is_read_by_ocr_once_it_is(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    mixed_pdf(docs / "mixed.pdf", tmp_path / "scan.pdf")
    without = indexing.update([docs], FakeEmbedder(), Settings(home=tmp_path, index_dir=Path("index"), ocr=False))
    assert without.ocr_pages == 0 and without.added == ["docs/mixed.pdf"]
    after = indexing.update([docs], FakeEmbedder(), Settings(home=tmp_path, index_dir=Path("index")))
    assert after.ocr_pages == 1 and after.changed == []  # the same bytes, read again: the scanned page is in now


def test_a_pdf_with_some_scanned_pages_keeps_its_text_layer_and_reads_the_rest(tmp_path: Path, ocr: Ocr) -> None:
    path = mixed_pdf(tmp_path / "mixed.pdf", tmp_path / "scan.pdf")
    document = load_file(path, tmp_path, ocr=ocr)
    assert isinstance(document, Document), document
    assert document.ocr_pages == 1  # the page with a text layer is not read by OCR
    assert "The office passed 17 laws in 2020." in document.text and "Năm nay, bạn bè của chúng tôi" in document.text


def test_a_pdf_whose_scanned_pages_fail_keeps_its_text_layer(tmp_path: Path) -> None:
    path = mixed_pdf(tmp_path / "mixed.pdf", tmp_path / "scan.pdf")
    document = load_file(path, tmp_path, ocr=Ocr(page_timeout_s=0.001))  # every page runs out of time
    assert isinstance(document, Document), document
    assert document.ocr_pages == 0 and "The office passed 17 laws in 2020." in document.text

"""OCR: the text of scanned pages (PDF pages without a text layer, and .png/.jpg/.tif images) read by Tesseract.

Tesseract runs as Debian packages it (`tesseract-ocr`, `tesseract-ocr-vie`; `make run` installs them): one
`tesseract stdin stdout -l vie` process a page, the page handed over as PNG bytes, so nothing is written to
disk. PDF pages are rendered by pdfium (`pypdfium2`) at `RAG_OCR_DPI`, grey. Every scan is bounded before
the work starts and while it runs: a document with more than `RAG_OCR_MAX_PAGES` pages to read is refused
with its page count (a TIFF's pages counted one at a time up to that bound); a page is rendered at most at
`MAX_PIXELS` (a huge page is rendered smaller); an image, or a TIFF page, over `MAX_PIXELS` is refused from
its header, before it is decoded, and only PNG, JPEG and TIFF are opened, whatever the name says; a page that
takes Tesseract more than `RAG_OCR_PAGE_TIMEOUT_S` is stopped and the document refused. Without Tesseract (or
its Vietnamese model) `Ocr.from_settings` gives None and the readers say what to install.

This module reads pixels; it does not decide which pages need it (`rag.readers`) or clean the text.
"""

from __future__ import annotations

import io
import math
import shutil
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rag.errors import ReadError
from rag.progress import NoProgress, Progress

if TYPE_CHECKING:
    from PIL import Image

    from rag.config import Settings

IMAGE_FORMATS = ("PNG", "JPEG", "TIFF")  # what scanners write; the .png/.jpg/.tif names readers accept
MAX_PIXELS = 40_000_000  # an A4 page at 600 dpi is 35 million pixels; Pillow's own bomb warning is at 89 million
INSTALL = "install Tesseract and its Vietnamese model: `apt-get install tesseract-ocr tesseract-ocr-vie`"


def tesseract_languages(binary: str = "tesseract") -> set[str]:
    """The languages this machine's Tesseract can read (empty when there is no Tesseract)."""
    path = shutil.which(binary)
    if path is None:
        return set()
    try:
        done = subprocess.run([path, "--list-langs"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return set()
    lines = done.stdout.splitlines()
    return {line.strip() for line in lines[1:] if line.strip()}  # the first line is "List of available languages…"


@dataclass
class Ocr:
    """Tesseract with its bounds; `pages` reports to `progress`, one step a document and a tick a page."""

    language: str = "vie"
    dpi: int = 300
    max_pages: int = 300
    page_timeout_s: float = 120
    binary: str = "tesseract"
    progress: Progress = field(default_factory=NoProgress)
    pages_read: int = 0  # since it was made, over every document
    seconds: float = 0.0

    @classmethod
    def from_settings(cls, settings: Settings, progress: Progress | None = None) -> Ocr | None:
        """The configured OCR, or None when it is turned off or Tesseract cannot read the language."""
        if not settings.ocr:
            return None
        ocr = cls(
            settings.ocr_language,
            settings.ocr_dpi,
            settings.ocr_max_pages,
            settings.ocr_page_timeout_s,
            progress=progress or NoProgress(),
        )
        return ocr if ocr.available() else None

    def available(self) -> bool:
        return all(lang in tesseract_languages(self.binary) for lang in self.language.split("+"))

    def read(self, image: Image.Image) -> str:
        """The text Tesseract reads on one page image."""
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        command = [self.binary, "stdin", "stdout", "-l", self.language, "--dpi", str(self.dpi), "quiet"]
        try:
            done = subprocess.run(
                command, input=buffer.getvalue(), capture_output=True, timeout=self.page_timeout_s, check=False
            )
        except subprocess.TimeoutExpired:
            raise ReadError(
                f"a page took Tesseract over {self.page_timeout_s:g} s (RAG_OCR_PAGE_TIMEOUT_S)",
                f"một trang mất hơn {self.page_timeout_s:g} giây để nhận dạng chữ (RAG_OCR_PAGE_TIMEOUT_S)",
            ) from None
        if done.returncode != 0:
            detail = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no message"]
            raise ReadError(f"Tesseract failed on a page ({detail[0]})", f"Tesseract lỗi ở một trang ({detail[0]})")
        return done.stdout.decode("utf-8", errors="replace")

    def pages(self, name: str, count: int, images: Callable[[], Iterable[Image.Image]]) -> list[str]:
        """The text of `count` page images (made lazily, one at a time; `seconds` adds their time); refused over
        `max_pages` before any is made."""
        self.check_pages(count)
        self.progress.step(f"OCR of {name} ({count} pages)", total=count, unit="pages")
        started = time.perf_counter()
        texts = []
        try:
            for image in images():
                texts.append(self.read(image))
                self.progress.advance(1)
        finally:
            seconds = time.perf_counter() - started
            self.pages_read += len(texts)
            self.seconds += seconds
        return texts

    def check_pages(self, count: int) -> None:
        """Refuse more than `max_pages` pages (a count of `max_pages` + 1 from `frame_count` means "more")."""
        if count > self.max_pages:
            many = f"{count:,}" if count > self.max_pages + 1 else f"more than {self.max_pages:,}"
            nhieu = f"{count:,}" if count > self.max_pages + 1 else f"hơn {self.max_pages:,}"
            raise ReadError(
                f"{many} scanned pages, over the {self.max_pages:,} read by OCR (RAG_OCR_MAX_PAGES); "
                "split the file or raise the limit",
                f"{nhieu} trang quét, quá {self.max_pages:,} trang được nhận dạng chữ (RAG_OCR_MAX_PAGES); "
                "hãy tách tệp hoặc nâng giới hạn",
            )


def render_pdf_pages(path: Path, numbers: list[int], dpi: int) -> Iterator[Image.Image]:
    """Pages `numbers` (0-based) of a PDF as grey images at `dpi`, each at most `MAX_PIXELS` (a page too large
    for that is rendered at a lower resolution)."""
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(path)
    try:
        for number in numbers:
            page = document[number]
            width, height = page.get_size()  # points: 1/72 inch
            scale = dpi / 72
            if width * height * scale * scale > MAX_PIXELS:
                scale = math.sqrt(MAX_PIXELS / max(width * height, 1)) * 0.99  # pdfium rounds the size up
            bitmap = page.render(scale=scale, grayscale=True)
            yield bitmap.to_pil()
            bitmap.close()
            page.close()
    finally:
        document.close()


def open_image(path: Path) -> Image.Image:
    """An image file, its size checked from the header before a pixel is decoded."""
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(path, formats=IMAGE_FORMATS)  # never EPS and the like, whatever the file is named
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        why = str(exc).replace(f"'{path}'", path.name).replace(str(path), path.name)
        raise ReadError(f"not a readable image ({why})", f"không đọc được ảnh ({why})") from None
    except Image.DecompressionBombError:  # Pillow's own limit, from the header: twice its MAX_IMAGE_PIXELS
        over = 2 * (Image.MAX_IMAGE_PIXELS or 0) / 1e6
        raise ReadError(
            f"an image of over {over:.0f} million pixels (a decompression bomb?), over the "
            f"{MAX_PIXELS / 1e6:.0f} million read by OCR",
            f"ảnh hơn {over:.0f} triệu điểm (bom giải nén?), quá {MAX_PIXELS / 1e6:.0f} triệu điểm được nhận dạng chữ",
        ) from None
    try:
        check_size(image)
    except ReadError:
        image.close()
        raise
    return image


def check_size(image: Image.Image) -> None:
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise ReadError(
            f"an image of {width:,} × {height:,} pixels, over the {MAX_PIXELS / 1e6:.0f} million read by OCR",
            f"ảnh {width:,} × {height:,} điểm, quá {MAX_PIXELS / 1e6:.0f} triệu điểm được nhận dạng chữ",
        )


def image_frames(image: Image.Image) -> Iterator[Image.Image]:
    """Each frame of an image (a multi-page TIFF has several), its size checked from its header, then decoded,
    one at a time, in grey."""
    from PIL import Image, ImageSequence

    for frame in ImageSequence.Iterator(image):
        check_size(frame)
        try:
            yield frame.convert("L")
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:  # Pillow reads lazily
            raise ReadError(f"a damaged image ({exc})", f"ảnh bị hỏng ({exc})") from None


def frame_count(image: Image.Image, most: int) -> int:
    """How many frames an image has, or `most` + 1 when it has more: counting them all would walk every one of a
    TIFF's directories (Pillow's own count slows down with the square of their number)."""
    count = 1
    try:
        while count <= most:  # one frame further each time: Pillow reads the next directory only
            image.seek(count)
            count += 1
    except EOFError:
        pass
    except (OSError, ValueError, SyntaxError) as exc:
        raise ReadError(f"a damaged image ({exc})", f"ảnh bị hỏng ({exc})") from None
    image.seek(0)
    return count

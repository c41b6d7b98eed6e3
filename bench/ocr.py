"""`python -m bench.ocr`: how well and how fast scanned Vietnamese pages are read, through `rag`'s own reader.

Pages are rendered from known text (`bench.scans`: prose with every vowel under every tone mark, its upper-case
version, and the bare list of the 67 toned letters) in two of Debian's fonts at 300 dpi, saved as PDFs with no
text layer, and read by `rag.ingest.load_file` with Tesseract's Vietnamese model, as `rag index` reads them. A
"scanned" variant of each prose page is degraded the way a scanner and a copier degrade a page (turned 1.5°,
blurred, speckled, saved as a JPEG of quality 40 and put in a PDF): simulated here, there being no scanner, and
labelled so. Character error rate is the edit distance over the known text's length (NFC, white space folded).

    .venv/bin/python -m bench.ocr                  # bench/results/ocr.json
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.results import RESULTS, save
from bench.scans import LETTERS, PAGES, cer, page_image
from rag.ingest import load_file
from rag.ocr import Ocr
from rag.types import Document

FONTS = ("DejaVuSerif.ttf", "DejaVuSans.ttf")


@dataclass(frozen=True)
class Row:
    font: str
    page: str  # prose, upper case, letters, and "(scanned)" for the degraded variant
    characters: int
    cer: float
    seconds: float


def degraded(text: str, font: str, seed: int) -> object:
    """A page as a scanner and a copier would leave it: turned, blurred, speckled, then a JPEG of quality 40."""
    import io

    from PIL import Image, ImageFilter

    image = page_image(text, font=font).rotate(1.5, expand=False, fillcolor=255, resample=Image.Resampling.BICUBIC)
    image = image.filter(ImageFilter.GaussianBlur(1.2))
    speckle = random.Random(seed)
    pixels = image.load()
    for _ in range(image.width * image.height // 400):
        pixels[speckle.randrange(image.width), speckle.randrange(image.height)] = speckle.choice((0, 255))  # type: ignore[index]
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=40)
    return Image.open(io.BytesIO(buffer.getvalue()))


def measure(pages: int | None = None) -> list[Row]:
    ocr = Ocr()
    if not ocr.available():
        raise SystemExit("error: Tesseract with its Vietnamese model is needed: apt-get install tesseract-ocr-vie")
    kinds = [("prose", PAGES[0]), ("prose", PAGES[1]), ("upper case", PAGES[2]), ("letters", LETTERS)][:pages]
    rows = []
    with tempfile.TemporaryDirectory(prefix="rag-ocr-") as tmp:
        for font in FONTS:
            for i, (kind, text) in enumerate(kinds):
                for scanned in (False, True) if kind == "prose" else (False,):
                    image = degraded(text, font, i) if scanned else page_image(text, font=font)
                    path = Path(tmp) / f"{font}-{i}-{scanned}.pdf"
                    image.save(path, "PDF", resolution=300)  # type: ignore[attr-defined]
                    started = time.perf_counter()
                    document = load_file(path, Path(tmp), ocr=ocr)
                    seconds = time.perf_counter() - started
                    read = "" if not isinstance(document, Document) else read_back(document)
                    label = kind + (" (scanned)" if scanned else "")
                    rows.append(Row(font, label, len(text), round(cer(read, text), 4), round(seconds, 2)))
                    print(f"{font:18} {label:18} CER {rows[-1].cer:.2%}  {seconds:.1f} s", flush=True)
    return rows


def read_back(document: Document) -> str:
    return document.text if document.title_derived else document.title + "\n" + document.text


def summary(rows: list[Row]) -> dict[str, object]:
    def pooled(kind: str) -> float | None:
        chosen = [r for r in rows if r.page == kind]
        total = sum(r.characters for r in chosen)
        return round(sum(r.cer * r.characters for r in chosen) / total, 4) if total else None

    seconds = sum(r.seconds for r in rows)
    return {
        "cer": {kind: pooled(kind) for kind in dict.fromkeys(r.page for r in rows)},
        "pages": len(rows),
        "pages_per_s": round(len(rows) / seconds, 3) if seconds else None,
        "rows": rows,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=None, help="only the first N kinds of page (a quick run)")
    parser.add_argument("--out", type=Path, default=RESULTS / "ocr.json")
    args = parser.parse_args(argv)
    return save(summary(measure(args.pages)), args.out)


if __name__ == "__main__":
    sys.exit(main())

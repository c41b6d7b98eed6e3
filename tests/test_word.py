"""Word documents: .docx tables kept as rows in reading order, and legacy .doc read by Debian's antiword (catdoc
for the short documents antiword refuses), with the fixtures `scripts/make_doc_fixtures.sh` made by LibreOffice."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bench.scans import cer
from rag.ingest import load_file
from rag.types import Document, Skipped

FIXTURES = Path(__file__).parent / "fixtures" / "doc"


def docx_with_a_table(path: Path) -> Path:
    import docx

    document = docx.Document()
    document.add_heading("Báo cáo điện và nước năm 2023", level=1)
    document.add_paragraph("Bảng dưới đây nêu số liệu của từng hạng mục.")
    table = document.add_table(rows=4, cols=3)
    rows = [
        ("Hạng mục", "Số lượng", "Tỷ lệ"),
        ("Điện năng", "1.234", "12,5%"),
        ("Nước sạch", "56.789", "7,25%"),
        ("Tổng cộng", "", ""),
    ]
    for row, values in zip(table.rows, rows, strict=True):
        for cell, value in zip(row.cells, values, strict=True):
            cell.text = value
    merged = table.cell(3, 1).merge(table.cell(3, 2))  # one cell across two columns
    merged.text = "58.023"
    document.add_paragraph("Hết báo cáo.")
    document.save(str(path))
    return path


def test_docx_tables_are_kept_as_rows_in_reading_order(tmp_path: Path) -> None:
    document = load_file(docx_with_a_table(tmp_path / "bao-cao.docx"), tmp_path)
    assert isinstance(document, Document), document
    assert document.title == "Báo cáo điện và nước năm 2023"
    assert document.text.split("\n") == [
        "Bảng dưới đây nêu số liệu của từng hạng mục.",
        "Hạng mục | Số lượng | Tỷ lệ",
        "Điện năng | 1.234 | 12,5%",
        "Nước sạch | 56.789 | 7,25%",
        "Tổng cộng | 58.023",
        "Hết báo cáo.",
    ]


def expected_doc_text() -> str:
    return (FIXTURES / "vi_unicode.txt").read_text(encoding="utf-8").replace("\t", " | ")


@pytest.fixture(scope="module", autouse=True)
def tools() -> None:
    missing = [t for t in ("antiword", "catdoc") if shutil.which(t) is None]
    assert not missing, f"{', '.join(missing)} needed: `make test` installs them (apt-get install antiword catdoc)"


def test_a_legacy_doc_keeps_every_vietnamese_letter_and_its_table(tmp_path: Path) -> None:
    document = load_file(FIXTURES / "vi_unicode.doc", tmp_path)
    assert isinstance(document, Document), document
    assert document.title == "Kiểm tra tiếng Việt: nguyên âm và dấu thanh"
    assert cer(document.title + "\n" + document.text, expected_doc_text()) == 0.0
    assert "Điện năng | 1.234 | 12,5%" in document.text.split("\n")


def test_a_short_doc_antiword_refuses_is_read_by_catdoc(tmp_path: Path) -> None:
    document = load_file(FIXTURES / "vi_short.doc", tmp_path)
    assert isinstance(document, Document), document
    assert document.text == (FIXTURES / "vi_short.txt").read_text(encoding="utf-8").strip()


@pytest.mark.parametrize("name", ["vi_unicode_docx.doc", "vi_unicode_rtf.doc", "vi_unicode_html.doc"])
def test_a_file_named_doc_is_read_as_what_it_is(tmp_path: Path, name: str) -> None:
    document = load_file(FIXTURES / name, tmp_path)
    assert isinstance(document, Document), document
    assert "Đường từ Hà Nội đến Thành phố Hồ Chí Minh" in document.text
    assert "1.234" in document.text


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("vi_text.doc", "not a Word 97-2003 document (nor a .docx, RTF or HTML file named .doc)"),
        ("vi_truncated.doc", "antiword cannot read it ("),
        ("empty.doc", "empty file (0 bytes)"),
    ],
)
def test_a_broken_doc_is_skipped_with_its_reason(tmp_path: Path, name: str, reason: str) -> None:
    skipped = load_file(FIXTURES / name, tmp_path)
    assert isinstance(skipped, Skipped)
    assert skipped.reason.startswith(reason), skipped.reason


def test_a_doc_typed_in_a_tcvn3_font_is_converted(tmp_path: Path) -> None:
    document = load_file(FIXTURES / "vi_tcvn3.doc", tmp_path)
    assert isinstance(document, Document), document
    assert document.encoding == "tcvn3"
    assert document.text == (FIXTURES / "vi_tcvn3.txt").read_text(encoding="utf-8").strip()

"""Ingestion and cleaning: the seeds' real boilerplate, every format, bad files that must not stop a run."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from rag.cleaning import clean
from rag.config import CHECKOUT
from rag.ingest import load_documents
from rag.types import Document, Extracted

SEEDS = CHECKOUT / "seeds"


@pytest.fixture(scope="module")
def seeds() -> dict[str, Document]:
    documents, skipped = load_documents([SEEDS], CHECKOUT)
    assert skipped == []
    return {Path(d.id).name[:3]: d for d in documents}


def test_seed_ids_are_stable_paths_relative_to_home(seeds: dict[str, Document]) -> None:
    assert seeds["000"].id == "seeds/000_c291d7b26de038f5.txt"
    assert len(seeds["000"].content_hash) == 64


def test_repeated_paragraphs_are_kept_once(seeds: dict[str, Document]) -> None:
    raw = (SEEDS / "000_c291d7b26de038f5.txt").read_text(encoding="utf-8")
    phrase = "Tại cuộc họp, Vụ trưởng Vụ Tổng hợp Phan Thị Thùy Linh đã báo cáo chi tiết"
    assert raw.count(phrase) == 2
    assert seeds["000"].text.count(phrase) == 1


def test_navigation_lists_are_dropped_and_attribution_becomes_metadata(seeds: dict[str, Document]) -> None:
    doc = seeds["004"]
    for boilerplate in (
        "Tin cùng chuyên mục",
        "Xem tin theo ngày",
        "cao tốc Nam Định - Thái Bình",
        "09.05.2025 |",
        "Theo: dangcongsan.vn",
    ):
        assert boilerplate not in doc.text
    assert doc.source == "dangcongsan.vn"
    assert doc.title == "Chủ tịch Quốc hội Vương Đình Huệ làm việc với Văn phòng Quốc hội"
    # "Theo <someone>, …" is content, not attribution; the article's last paragraph is still there
    assert "Theo Chủ tịch Quốc hội, Văn phòng Quốc hội phải không ngừng bồi dưỡng" in doc.text
    assert "Chủ tịch Quốc hội đề nghị Văn phòng Quốc hội phối hợp tham mưu phục vụ" in doc.text


def test_title_date_and_source_lines_become_metadata(seeds: dict[str, Document]) -> None:
    assert seeds["003"].title.startswith("HỘI NGHỊ TỔNG KẾT CÔNG TÁC NĂM 2020")
    assert seeds["003"].date == "2021-01-05"
    assert not seeds["003"].text.startswith(("HỘI NGHỊ", "05/01/2021"))
    assert (
        seeds["001"].source
        == "Quốc Hội: https://quochoi.vn/tintuc/pages/tin-hoat-dong-van-phong-quoc-hoi.aspx?itemid=79574"
    )
    assert "Nguồn" not in seeds["001"].text


def test_a_document_without_boilerplate_loses_nothing(seeds: dict[str, Document]) -> None:
    raw = [line.strip() for line in (SEEDS / "002_37f921b53b99e311.txt").read_text(encoding="utf-8").splitlines()]
    assert seeds["002"].text.split("\n") == [line for line in raw if line]  # its caption first line stays text


def test_titles_are_headlines_not_captions_and_derived_ones_say_so(seeds: dict[str, Document]) -> None:
    titles = {key: (d.title, d.title_derived) for key, d in seeds.items()}
    assert titles["004"] == ("Chủ tịch Quốc hội Vương Đình Huệ làm việc với Văn phòng Quốc hội", False)
    assert titles["001"][0].startswith("TỔNG THƯ KÝ QUỐC HỘI") and not titles["001"][1]
    # no headline: a photo caption ("Toàn cảnh …") and an attendance line ("Tham dự … còn có …") are passed over
    assert titles["002"] == ("Tại cuộc làm việc, Vụ trưởng Vụ Tổng hợp Vũ Khắc Định báo cáo một số…", True)
    assert titles["000"] == (
        "Tại cuộc họp, Vụ trưởng Vụ Tổng hợp Phan Thị Thùy Linh đã báo cáo chi tiết những công việc…",
        True,
    )


@pytest.mark.parametrize(
    ("first", "title", "derived"),
    [
        ("Dự án Luật Đất đai sửa đổi", "Dự án Luật Đất đai sửa đổi", False),  # "Dự" is not "Tham dự"
        ("Ảnh hưởng của bão số 3 tới miền Bắc", "Ảnh hưởng của bão số 3 tới miền Bắc", False),
        (
            "Quang cảnh phiên họp (Ảnh: TTXVN)",
            "Ngày 4/5, Quốc hội thảo luận về dự án luật tại hội trường Diên Hồng cùng nhiều đại biểu",
            True,
        ),
        (
            "Các đại biểu dự hội nghị",
            "Ngày 4/5, Quốc hội thảo luận về dự án luật tại hội trường Diên Hồng cùng nhiều đại biểu",
            True,
        ),
    ],
)
def test_a_caption_like_first_line_is_no_headline(first: str, title: str, derived: bool) -> None:
    body = "Ngày 4/5, Quốc hội thảo luận về dự án luật tại hội trường Diên Hồng cùng nhiều đại biểu."
    cleaned = clean(Extracted(first + "\n" + body), fallback_title="x")
    assert (cleaned.title, cleaned.title_derived) == (title, derived)


@pytest.mark.parametrize("metadata", ["Microsoft Word - bao cao.doc", "Untitled", "BC_2023_final.docx", "Document1"])
def test_a_programs_placeholder_title_is_no_title(metadata: str) -> None:
    cleaned = clean(Extracted("Báo cáo tổng kết năm 2023\nNội dung chính của báo cáo.", title=metadata), "x")
    assert cleaned.title == "Báo cáo tổng kết năm 2023"


def test_formats(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text(
        "# Báo cáo tháng\n\nNội dung **chính** xem [tại đây](http://x.vn).\n", encoding="utf-8"
    )
    (tmp_path / "b.html").write_text(
        "<html><head><title>Trang</title></head><body><nav><a href='/'>Trang chủ</a> | <a>Thể thao</a></nav>"
        "<article><h1>Họp giao ban tháng 8</h1><p>Sáng 7/9, tại Nhà Quốc hội, cuộc họp giao ban giữa lãnh đạo "
        "Văn phòng Quốc hội với các vụ đã diễn ra.</p><p>Văn phòng đã xây dựng 8 văn bản tham gia ý kiến và 5 tờ "
        "trình gửi Bộ Chính trị trong tháng.</p></article><footer>Bản quyền thuộc về cổng thông tin.</footer>"
        "</body></html>",
        encoding="utf-8",
    )
    import docx

    document = docx.Document()
    document.add_heading("Kế hoạch năm 2024", level=1)
    document.add_paragraph("Văn phòng Quốc hội triển khai 11 nhóm nhiệm vụ trọng tâm.")
    document.save(str(tmp_path / "c.docx"))
    (tmp_path / "d.pdf").write_bytes(minimal_pdf("Annual report. The office passed 17 laws in 2020."))
    (tmp_path / "e.txt").write_bytes(windows_1258("Văn bản cũ mã hoá Windows-1258: hoà bình, sức khoẻ, Ủy ban.\n"))

    documents, skipped = load_documents([tmp_path], tmp_path)
    assert skipped == []
    by_name = {Path(d.path).name: d for d in documents}
    assert (by_name["a.md"].title, by_name["a.md"].text) == ("Báo cáo tháng", "Nội dung chính xem tại đây.")
    html = by_name["b.html"]
    assert "8 văn bản tham gia ý kiến" in html.text and "Trang chủ" not in html.text and "Bản quyền" not in html.text
    assert by_name["c.docx"].title == "Kế hoạch năm 2024"
    assert by_name["c.docx"].text == "Văn phòng Quốc hội triển khai 11 nhóm nhiệm vụ trọng tâm."
    assert "passed 17 laws in 2020" in by_name["d.pdf"].text
    assert by_name["e.txt"].text == "Văn bản cũ mã hóa Windows-1258: hòa bình, sức khỏe, Ủy ban."


def test_bad_files_are_reported_and_the_rest_is_read(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text("Một văn bản bình thường.", encoding="utf-8")
    (tmp_path / "sheet.xlsx").write_bytes(b"PK\x03\x04")
    (tmp_path / "broken.docx").write_bytes(b"not a zip at all")
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4 garbage")
    (tmp_path / "empty.txt").write_text("   \n\n", encoding="utf-8")
    (tmp_path / ".hidden.txt").write_text("ignored", encoding="utf-8")
    documents, skipped = load_documents([tmp_path, tmp_path / "missing.txt"], tmp_path)
    assert [Path(d.path).name for d in documents] == ["good.txt"]
    reasons = {Path(s.path).name: s.reason for s in skipped}
    assert reasons["sheet.xlsx"].startswith("unsupported type .xlsx")
    assert reasons["broken.docx"] == "not a .docx (not a zip archive, or a truncated one)"
    assert reasons["broken.pdf"].startswith("not a readable PDF (")
    assert reasons["empty.txt"] == "no text left after cleaning"
    assert reasons["missing.txt"] == "no such file or folder"
    assert ".hidden.txt" not in reasons


def windows_1258(text: str) -> bytes:
    """Encode as Windows-1258 does it: letters precomposed except the tone, which is a combining mark."""
    out = []
    for char in text:
        parts = unicodedata.normalize("NFD", char)
        tones = [c for c in parts if c in "\u0300\u0301\u0303\u0309\u0323"]
        out.append(unicodedata.normalize("NFC", "".join(c for c in parts if c not in tones)) + "".join(tones))
    return "".join(out).encode("cp1258")


def minimal_pdf(text: str) -> bytes:
    """A one-page PDF showing `text` (ASCII) in Helvetica, with a correct cross-reference table."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def test_content_that_looks_like_metadata_stays(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text(
        "Nguồn vốn đầu tư công năm 2024 tăng mạnh so với năm trước.\nTheo Bộ Tài chính, giải ngân đạt 80%.\n"
        "Nguồn: baochinhphu.vn",
        encoding="utf-8",
    )
    (tmp_path / "b.txt").write_text("Hội nghị tổng kết công tác năm 2020", encoding="utf-8")
    documents, skipped = load_documents([tmp_path], tmp_path)
    assert skipped == []
    a, b = documents
    assert a.source == "baochinhphu.vn"
    assert a.text.startswith("Nguồn vốn đầu tư công") and "Theo Bộ Tài chính" in a.text
    assert b.text == "Hội nghị tổng kết công tác năm 2020"  # a one-line document is text, not only a title


def test_a_blank_title_in_a_files_metadata_is_no_title() -> None:
    # found by tests/reliability/test_properties.py: a title of spaces became the empty title
    title, _, _, text, _ = clean(Extracted("Một câu đủ dài.", title=" "), fallback_title="tệp")
    assert (title, text) == ("Một câu đủ dài.", "Một câu đủ dài.")


def test_the_same_file_twice_is_one_document(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("Một văn bản.", encoding="utf-8")
    documents, _ = load_documents([tmp_path, tmp_path / "a.txt", tmp_path / "." / "a.txt"], tmp_path)
    assert len(documents) == 1


LEGACY = (
    "Văn phòng Quốc hội tổ chức hội nghị tổng kết công tác năm 2023 tại Hà Nội. "
    "Các đại biểu thống nhất rằng việc ứng dụng công nghệ thông tin đã giúp rút ngắn thời gian xử lý hồ sơ."
)


@pytest.mark.parametrize("encoding", ["tcvn3", "vni"])
def test_a_legacy_text_file_is_converted_and_says_so(tmp_path: Path, encoding: str) -> None:
    from rag.legacy import from_unicode

    path = tmp_path / "cu.txt"
    path.write_bytes(from_unicode(LEGACY, encoding).encode("cp1252"))  # as the old fonts' files hold it
    document = load_documents([path], tmp_path)[0][0]
    assert (document.text, document.encoding) == (LEGACY, encoding)


@pytest.mark.parametrize("encoding", ["tcvn3", "vni"])
def test_legacy_text_inside_html_and_docx_is_converted(tmp_path: Path, encoding: str) -> None:
    import docx

    from rag.legacy import from_unicode

    shaped = from_unicode(LEGACY, encoding)  # what a .VnTime or VNI-Times font leaves in a page or a Word file
    page = f'<html><head><meta charset="windows-1252"><title>x</title></head><body><article><p>{shaped}</p>'
    (tmp_path / "cu.html").write_bytes((page + "</article></body></html>").encode("cp1252"))
    word = docx.Document()
    word.add_paragraph(shaped)
    word.save(str(tmp_path / "cu.docx"))
    documents, skipped = load_documents([tmp_path], tmp_path)
    assert skipped == []
    assert {d.id: (d.text, d.encoding) for d in documents} == {
        "cu.docx": (LEGACY, encoding),
        "cu.html": (LEGACY, encoding),
    }


def test_unicode_and_windows_1258_files_are_never_converted(tmp_path: Path) -> None:
    (tmp_path / "utf8.txt").write_text(LEGACY, encoding="utf-8")
    (tmp_path / "cp1258.txt").write_bytes(windows_1258(LEGACY))
    french = "L'été à Paris: où déjeuner près du musée? Très bien, ça marche. Le café est à côté de l'hôtel."
    (tmp_path / "fr.txt").write_text(french, encoding="utf-8")  # accents a VNI reading would take for tone marks
    documents = {d.id: d for d in load_documents([tmp_path], tmp_path)[0]}
    assert documents["utf8.txt"].text == documents["cp1258.txt"].text == LEGACY
    assert all(d.encoding is None for d in documents.values())
    assert documents["fr.txt"].text == french

"""Word documents: `.docx` paragraphs and tables in reading order, and legacy `.doc` through a Debian tool.

A .docx is a zip: its directory alone is read first, and it is refused when it is no zip,
when its parts would unpack to more than 200 MB in all, or when a part over 10 MB unpacks to
more than 200 times its packed size (a zip bomb); nothing is decompressed to find out. Its
body is read in order, paragraphs and tables as they come: a table row becomes one line, its
cells in order joined by " | " (a cell merged across columns counted once, a cell's own
paragraphs joined by spaces, a table inside a cell read in line), so the figures of a table
can be found and cited. A legacy `.doc` is read by antiword (by catdoc when antiword fails,
as it does on very short documents), both told to write UTF-8: they keep every Vietnamese letter
(measured on `tests/fixtures/doc/`), and a table row becomes a line too; a file named .doc
that is really a .docx, RTF or HTML file is read as what it is.

This module reads files; it does not clean text (`rag.cleaning`).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.errors import ReadError
from rag.types import Extracted

if TYPE_CHECKING:
    from rag.ocr import Ocr

MB = 1024 * 1024

DOCX_MAX_UNPACKED_MB = 200
DOCX_MAX_RATIO = 200  # a part over DOCX_RATIO_FROM_MB unpacking to more than this many times its packed size
DOCX_RATIO_FROM_MB = 10
CELL_SEPARATOR = " | "


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


def read_docx(path: Path, ocr: Ocr | None = None) -> Extracted:
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    check_zip(path)
    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, KeyError, ValueError) as exc:
        raise ReadError(f"not a readable .docx file ({exc})", f"không đọc được tệp .docx ({exc})") from None
    lines = list(block_lines(document))
    title = document.core_properties.title or next(
        (p.text for p in document.paragraphs if p.style is not None and p.style.name in ("Title", "Heading 1")), None
    )
    return Extracted("\n".join(lines), title=title or None)


def table_rows(table: Any) -> Iterator[str]:
    """A python-docx table as lines: one a row, its cells in order; merged cells once; empty rows dropped."""
    for row in table.rows:
        cells, seen = [], set()
        for cell in row.cells:
            if id(cell._tc) in seen:  # a merged cell is returned once per grid column it spans
                continue
            seen.add(id(cell._tc))
            cells.append(" ".join(" ".join(block_lines(cell)).split()))
        if any(cells):
            yield CELL_SEPARATOR.join(cells)


def block_lines(container: Any) -> Iterator[str]:
    """The lines of a document body or a table cell, in order: a paragraph a line, a table row a line."""
    from docx.table import Table

    for block in container.iter_inner_content():
        if isinstance(block, Table):
            yield from table_rows(block)
        else:
            yield block.text


OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # a Word 97-2003 file is an OLE compound file
TOOL_TIMEOUT_S = 60
ANTIWORD_ROW = re.compile(r"^\|(.*)\|$")


def read_doc(path: Path, ocr: Ocr | None = None) -> Extracted:
    """A Word 97-2003 .doc by antiword (catdoc when antiword fails: it cannot read very short documents).
    Files saved with a .doc name in another format are read as what they are: .docx, RTF (catdoc), HTML."""
    with path.open("rb") as f:
        head = f.read(512)
    if head.startswith(b"PK\x03\x04"):
        return read_docx(path)
    if head.lstrip().lower().startswith((b"<html", b"<!doctype", b"<meta", b"<?xml")):
        from rag.readers import read_html  # a Word "web page" saved as .doc

        return read_html(path)
    if head.startswith(b"{\\rtf"):
        return Extracted(
            _run(["catdoc", "-d", "utf-8", "-w", str(path.resolve())], "catdoc").replace("\t", CELL_SEPARATOR)
        )
    if not head.startswith(OLE):
        raise ReadError(
            "not a Word 97-2003 document (nor a .docx, RTF or HTML file named .doc)",
            "không phải tài liệu Word 97-2003 (cũng không phải tệp .docx, RTF hay HTML mang tên .doc)",
        )
    try:
        text = _run(["antiword", "-m", "UTF-8.txt", "-w", "0", str(path.resolve())], "antiword")  # never "-x.doc"
    except ReadError as first:
        try:
            catdoc = _run(["catdoc", "-d", "utf-8", "-w", str(path.resolve())], "catdoc")
            return Extracted(catdoc.replace("\t", CELL_SEPARATOR))
        except ReadError:
            raise first from None
    rows = [
        CELL_SEPARATOR.join(cell.strip() for cell in m.group(1).split("|")) if (m := ANTIWORD_ROW.match(line)) else line
        for line in text.split("\n")
    ]
    return Extracted("\n".join(rows))


def _run(command: list[str], tool: str) -> str:
    """A Debian tool's output as UTF-8 text, or the reason it gave none."""
    if shutil.which(command[0]) is None:
        raise ReadError(
            f"a Word 97-2003 document needs {tool}: `apt-get install antiword catdoc`",
            f"tài liệu Word 97-2003 cần {tool}: `apt-get install antiword catdoc`",
        )
    try:
        done = subprocess.run(command, capture_output=True, timeout=TOOL_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise ReadError(
            f"{tool} took over {TOOL_TIMEOUT_S} s on it", f"{tool} chạy quá {TOOL_TIMEOUT_S} giây trên tệp này"
        ) from None
    message = done.stderr.decode("utf-8", errors="replace").strip().replace(str(command[-1]), "the file")
    if done.returncode != 0 or not done.stdout.strip():
        why = message.splitlines()[0] if message else f"exit status {done.returncode}"
        raise ReadError(f"{tool} cannot read it ({why})", f"{tool} không đọc được tệp ({why})")
    return done.stdout.decode("utf-8", errors="replace")

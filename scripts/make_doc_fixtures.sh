#!/bin/sh
# Regenerates the legacy Word (.doc, Word 97-2003 binary) test fixtures under tests/fixtures/doc/.
#
# Needs LibreOffice Writer (Debian: apt-get install -y --no-install-recommends libreoffice-writer-nogui)
# and python3 (standard library only). Only this script needs LibreOffice: the tests read the committed
# fixtures and never call it, and nothing at run time depends on it.
#
#   sh scripts/make_doc_fixtures.sh            # writes into tests/fixtures/doc/
#   sh scripts/make_doc_fixtures.sh OUTDIR     # writes elsewhere
#
# Files written:
#   vi_unicode.txt       the exact source text, UTF-8, NFC: a heading line, two paragraphs, a 3x3 table
#                        (one row a line, cells separated by TAB), a closing paragraph; blocks separated
#                        by one empty line; every Vietnamese vowel with every tone mark, lower and upper
#                        case, and d-stroke (đ/Đ).
#   vi_unicode.doc       that text converted by LibreOffice ("MS Word 97" filter); heading as Heading 1,
#                        the table as a real Word table.
#   vi_unicode_docx.doc  the same document as .docx (a ZIP), saved under a .doc name.
#   vi_unicode_rtf.doc   the same document as RTF, saved under a .doc name (common in offices).
#   vi_unicode_html.doc  the HTML source of the document, saved under a .doc name (also common).
#   vi_fields.txt/.doc   a soft line break, a HYPERLINK field, a bulleted and a numbered list; the .txt
#                        holds the visible text, one paragraph (or soft-broken line) a line.
#   vi_short.txt/.doc    one short sentence: its WordDocument stream is under 4096 bytes, so it lies in the
#                        OLE mini stream, which antiword 0.37 refuses ("text stream ... too small").
#   vi_tcvn3.txt/.doc    a paragraph typed in a TCVN3 font (.VnTime): the .doc holds the legacy bytes shown as
#                        Windows-1252 letters, the .txt the Unicode text they stand for.
#   vi_text.doc          vi_unicode.txt itself under a .doc name.
#   vi_truncated.doc     the first 4096 bytes of vi_unicode.doc (the OLE header and part of the FAT).
#   empty.doc            an empty file.
# Run again, LibreOffice 7.4 writes byte-identical .doc files; the .docx (a ZIP with timestamps) differs.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$ROOT/tests/fixtures/doc}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

command -v soffice >/dev/null 2>&1 || {
    echo "soffice not found: apt-get install -y --no-install-recommends libreoffice-writer-nogui" >&2
    exit 1
}

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT INT TERM

# The text and its HTML rendering come from one place, so the .txt is exactly what the .doc holds.
python3 - "$OUT/vi_unicode.txt" "$WORK/vi_unicode.html" <<'EOF'
import html, sys, unicodedata

vowels = "a ă â e ê i o ô ơ u ư y".split()
tones = ["", "\u0300", "\u0301", "\u0309", "\u0303", "\u0323"]  # none, huyền, sắc, hỏi, ngã, nặng
lower = [unicodedata.normalize("NFC", v + t) for v in vowels for t in tones]
assert len(set(lower)) == 72

heading = "Kiểm tra tiếng Việt: nguyên âm và dấu thanh"
para1 = ("Chữ thường: " + " ".join(lower) + " đ. Chữ hoa: "
         + " ".join(c.upper() for c in lower) + " Đ.")
para2 = ("Đường từ Hà Nội đến Thành phố Hồ Chí Minh dài khoảng 1.234 ki-lô-mét; "
         "quý IV năm 2023 tỷ lệ hoàn thành đạt 12,5%. Người dùng hỏi: “Tài liệu này ở đâu?” "
         "– câu trả lời nằm trong bảng dưới đây.")
table = [
    ["Hạng mục", "Số lượng", "Tỷ lệ"],
    ["Điện năng", "1.234", "12,5%"],
    ["Nước sạch", "56.789", "7,25%"],
]
closing = "Hết tài liệu. Xin cảm ơn quý vị đã đọc kỹ hướng dẫn."

blocks = [heading, para1, para2, "\n".join("\t".join(r) for r in table), closing]
text = unicodedata.normalize("NFC", "\n\n".join(blocks) + "\n")
with open(sys.argv[1], "w", encoding="utf-8", newline="\n") as f:
    f.write(text)

e = html.escape
rows = "\n".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>" for r in table)
doc = f"""<!DOCTYPE html>
<html lang="vi"><head><meta charset="utf-8"><title>{e(heading)}</title></head>
<body>
<h1>{e(heading)}</h1>
<p>{e(para1)}</p>
<p>{e(para2)}</p>
<table border="1">
{rows}
</table>
<p>{e(closing)}</p>
</body></html>
"""
with open(sys.argv[2], "w", encoding="utf-8", newline="\n") as f:
    f.write(doc)

out_dir, work_dir = sys.argv[1].rsplit("/", 1)[0], sys.argv[2].rsplit("/", 1)[0]

def write_pair(name, lines, body):
    with open(f"{out_dir}/{name}.txt", "w", encoding="utf-8", newline="\n") as f:
        f.write(unicodedata.normalize("NFC", "\n".join(lines) + "\n"))
    with open(f"{work_dir}/{name}.html", "w", encoding="utf-8", newline="\n") as f:
        f.write(f'<!DOCTYPE html>\n<html lang="vi"><head><meta charset="utf-8"></head>\n<body>\n{body}\n</body></html>\n')

link = "https://example.vn/huong-dan"
fields = [
    ("Dòng một", "dòng hai sau ngắt dòng mềm."),
    ("Xem ", "trang hướng dẫn", " để biết thêm."),
    ["Mục thứ nhất", "Mục thứ hai"],
    ["Bước một", "Bước hai"],
    "Người Việt Nam thường dùng Word để soạn thảo công văn, quyết định, thông báo và biên bản họp; "
    "các tệp .doc cũ vẫn còn rất nhiều trong cơ quan nhà nước.",
]
write_pair("vi_fields", [
    fields[0][0], fields[0][1], "".join(fields[1]), *fields[2], *fields[3], fields[4],
], "\n".join([
    f"<p>{e(fields[0][0])}<br>{e(fields[0][1])}</p>",
    f'<p>{e(fields[1][0])}<a href="{link}">{e(fields[1][1])}</a>{e(fields[1][2])}</p>',
    "<ul>" + "".join(f"<li>{e(x)}</li>" for x in fields[2]) + "</ul>",
    "<ol>" + "".join(f"<li>{e(x)}</li>" for x in fields[3]) + "</ol>",
    f"<p>{e(fields[4])}</p>",
]))
short = "Xin chào Việt Nam."
write_pair("vi_short", [short], f"<p>{e(short)}</p>")
EOF

# A private profile, so a user's LibreOffice settings (or a running instance) play no part.
PROFILE="file://$WORK/profile"
lo() {
    # "HTML (StarWriter)" opens the HTML as a Writer document (not Writer/Web, which has no Word export).
    # LibreOffice prints "failed to launch javaldx" warnings here; they are harmless.
    soffice -env:UserInstallation="$PROFILE" --headless --norestore \
        --infilter="HTML (StarWriter)" --convert-to "$1" --outdir "$WORK" "$WORK/$2.html" >/dev/null
    [ -s "$WORK/$2.${1%%:*}" ] || { echo "LibreOffice wrote no $2.${1%%:*}" >&2; exit 1; }
}
lo 'doc:MS Word 97' vi_unicode
lo 'docx:MS Word 2007 XML' vi_unicode
lo 'rtf:Rich Text Format' vi_unicode
lo 'doc:MS Word 97' vi_fields
lo 'doc:MS Word 97' vi_short

# A Word file typed in a TCVN3 (.VnTime) font, as old office files are: its text is the legacy bytes shown as
# Windows-1252 letters ("Hµ Néi"); rag.legacy (standard library only) makes them from the known UTF-8 text.
PYTHONPATH="$ROOT" python3 - "$OUT/vi_tcvn3.txt" "$WORK/vi_tcvn3.html" <<'EOF'
import html, sys
from rag.legacy import from_unicode

text = ("Văn phòng Quốc hội tổ chức hội nghị tổng kết công tác năm 2023 tại Hà Nội. "
        "Các đại biểu thống nhất rằng việc ứng dụng công nghệ thông tin đã giúp rút ngắn thời gian xử lý hồ sơ.")
open(sys.argv[1], "w", encoding="utf-8", newline="\n").write(text + "\n")
shaped = html.escape(from_unicode(text, "tcvn3"))
open(sys.argv[2], "w", encoding="utf-8").write(
    f'<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>'
    f'<p style="font-family: .VnTime">{shaped}</p></body></html>'
)
EOF
lo 'doc:MS Word 97' vi_tcvn3

cp "$WORK/vi_unicode.doc" "$OUT/vi_unicode.doc"
cp "$WORK/vi_fields.doc" "$OUT/vi_fields.doc"
cp "$WORK/vi_short.doc" "$OUT/vi_short.doc"
cp "$WORK/vi_tcvn3.doc" "$OUT/vi_tcvn3.doc"
cp "$WORK/vi_unicode.docx" "$OUT/vi_unicode_docx.doc"
cp "$WORK/vi_unicode.rtf" "$OUT/vi_unicode_rtf.doc"
cp "$WORK/vi_unicode.html" "$OUT/vi_unicode_html.doc"
cp "$OUT/vi_unicode.txt" "$OUT/vi_text.doc"
head -c 4096 "$OUT/vi_unicode.doc" >"$OUT/vi_truncated.doc"
: >"$OUT/empty.doc"

ls -l "$OUT"

"""Scanned pages made from known Vietnamese text, for the OCR tests and benchmark: rendered by Pillow with
Debian's DejaVu fonts at 300 dpi (an A4 page), saved as a PDF without a text layer or as an image."""

from __future__ import annotations

import textwrap
import unicodedata
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

FONTS = Path("/usr/share/fonts/truetype/dejavu")
A4_300DPI = (2480, 3508)

# Sentences with every vowel under every tone mark, and đ, as words of ordinary prose (Tesseract reads words, not
# lists of letters); the upper-case page holds every capital. `LETTERS` is the bare list, measured apart.
PROSE = [
    (
        "Năm nay, bạn bè của chúng tôi cũng đã sẵn sàng giúp đỡ mọi người bằng những việc làm thiết thực và cụ thể. "
        "Chẳng ai bắt buộc, nhưng ai cũng cần học hỏi để chuẩn bị cho kỳ thi sắp tới. Mẹ dặn em bé uống chè nóng, "
        "đừng để bị cảm lạnh khi trời trở gió."
    ),
    (
        "Hệ thống quản lý hồ sơ mới được đưa vào sử dụng từ quý hai, giúp rút ngắn thời gian xử lý và đem lại lợi ích"
        " rõ rệt cho người dân. Mỗi đơn vị phải báo cáo kết quả, chỉ ra những hạn chế và đề xuất giải pháp khắc phục,"
        " tùy theo điều kiện thực tế của mình."
    ),
    (
        "Ông ấy kể rằng chiếc ly thủy tinh đã vỡ vụn, nhưng mọi người vẫn vui vẻ, chẳng ai giận dữ. Ngày mai, trẻ nhỏ"
        " sẽ được nghỉ học; kỹ sư người Mỹ cho biết tỷ lệ hoàn thành đạt 98,5% và chi phí khoảng 1.700 tỷ đồng. Cô ấy"
        " quỵ xuống vì mệt, rồi lại đứng dậy đi tiếp."
    ),
    ("Văn phòng tổng hợp ý kiến bên lề diễn đàn và nghĩ cách cải tiến quy trình làm việc."),
]
PAGES = [PROSE[0] + "\n" + PROSE[1], PROSE[2] + "\n" + PROSE[3], "\n".join(PROSE).upper()]
LETTERS = (
    "a à á ả ã ạ ă ằ ắ ẳ ẵ ặ â ầ ấ ẩ ẫ ậ e è é ẻ ẽ ẹ ê ề ế ể ễ ệ i ì í ỉ ĩ ị o ò ó ỏ õ ọ ô ồ ố ổ ỗ ộ ơ ờ ớ ở ỡ ợ "
    "u ù ú ủ ũ ụ ư ừ ứ ử ữ ự y ỳ ý ỷ ỹ ỵ đ"
)


def page_image(text: str, font: str = "DejaVuSerif.ttf", size: int = 46, width_chars: int = 62) -> Image.Image:
    """`text` on a white A4 page at 300 dpi (46 px is an 11-point type), wrapped, black, in grey scale."""
    image = Image.new("L", A4_300DPI, 255)
    draw = ImageDraw.Draw(image)
    face = ImageFont.truetype(str(FONTS / font), size)
    y = 200
    for paragraph in text.split("\n"):
        for line in textwrap.wrap(paragraph, width_chars):
            draw.text((200, y), line, font=face, fill=0)
            y += int(size * 1.6)
        y += size
    return image


def scanned_pdf(path: Path, pages: list[str], **style: object) -> Path:
    """A PDF of image-only pages (no text layer), one page a text."""
    images = [page_image(text, **style) for text in pages]  # type: ignore[arg-type]
    images[0].save(path, "PDF", resolution=300, save_all=True, append_images=images[1:])
    return path


def cer(found: str, expected: str) -> float:
    """Character error rate: the edit distance from `expected` to `found` (NFC, runs of white space as one
    space) over the length of `expected`.

    >>> cer("Hà Nôi", "Hà Nội")
    0.16666666666666666
    """
    a = " ".join(unicodedata.normalize("NFC", found).split())
    b = " ".join(unicodedata.normalize("NFC", expected).split())
    previous = list(range(len(a) + 1))
    for i, cb in enumerate(b, 1):
        current = [i]
        for j, ca in enumerate(a, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1] / max(len(b), 1)

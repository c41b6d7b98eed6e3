"""Cleaning a reader's text into a document's title, date, source and body: the same rules for every format.

After `rag.text.normalize`:
- navigation blocks are dropped: a line that is exactly a known navigation heading
  ("Tin cùng chuyên mục", "Xem tin theo ngày", "Tin liên quan", …) and the list-like
  lines after it (bullets, or short lines that end without a stop), up to the next
  real paragraph. A document without such a heading loses nothing;
- the source attribution ("Nguồn …", "Theo: …" on a line of its own) and a line that is
  only a date become metadata and leave the text;
- the title: the file's own (its metadata, a Markdown or Word heading) unless it is a
  program's placeholder ("Microsoft Word - x.doc", "Untitled", a file name, the file's
  own name); else a
  leading headline (a short first line with no final stop) that is not caption-like (a
  photo caption, "Toàn cảnh …", "Ảnh: …", or an attendance line, "Tham dự … có …"), and
  leaves the text; else one is derived from the first informative sentence (not
  caption-like, six words or more): the whole of a sentence of up to 21 words, else cut
  where a clause ends within 8 to 20 words, else at 16 words; `title_derived` says so;
- a paragraph, or a sentence of 30 characters or more, repeated inside the document is
  kept once (the first time): the seeds repeat whole paragraphs and parts of them.
This module does not read files (`rag.readers`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

from rag.chunking import split_sentences
from rag.text import normalize
from rag.types import Extracted

CLEANING_VERSION = 2  # bump when cleaning changes its output: the index rebuilds
NAV_HEADINGS = frozenset(
    normalize(h).casefold()
    for h in (
        "Tin cùng chuyên mục",
        "Xem tin theo ngày",
        "Tin liên quan",
        "Tin khác",
        "Các tin khác",
        "Bài viết liên quan",
        "Tin mới",
        "Tin mới nhất",
        "Tin nổi bật",
        "Đọc nhiều",
        "Xem nhiều",
        "Có thể bạn quan tâm",
        "Xem thêm",
        "Bài liên quan",
        "Cùng chuyên mục",
    )
)
# "Nguồn: …", "Theo: …", or "Nguồn <site>: <url>"; not "Nguồn vốn …" or "Theo Chủ tịch …", which are content
SOURCE_LINE = re.compile(
    r"^(?:(?:nguồn|theo)\s*:\s*(?P<source>\S.*)|nguồn\s+(?P<site>[^:]{1,60}:\s*https?://\S+))$", re.IGNORECASE
)
DATE_LINE = re.compile(r"^(?:ngày\s+)?(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$", re.IGNORECASE)
FULL_DATE = re.compile(r"\b(\d{1,2})/(\d{1,2})/(\d{4})\b")
LIST_ITEM = re.compile(r"^[-–•*+]\s*")
SENTENCE_END = '.!?…:;"”)'
SHORT_LINE = 120
# What starts a photo caption or an attendance line in Vietnamese news, not a headline: "Toàn cảnh cuộc họp",
# "Ảnh: TTXVN", "Các đại biểu dự hội nghị", "Tham dự cuộc họp còn có …", "Cùng dự có …"
CAPTION = re.compile(
    r"^(?:toàn cảnh|quang cảnh|(?:các )?đại biểu (?:dự|tham dự)\b|(?:cùng )?tham dự\b|cùng dự\b)|\(ảnh\b|\bảnh\s*:",
    re.IGNORECASE,
)
PLACEHOLDER_TITLE = re.compile(
    r"^(?:microsoft (?:word|powerpoint) - .*|untitled\b.*|document\d*|tài liệu\d*|.*\.(?:docx?|pdf|rtf|txt|odt))$",
    re.IGNORECASE,
)
TITLE_WORDS = 16
CLAUSE_WORDS = (8, 21)  # a derived title ends at the first clause that ends within these many words
MIN_TITLE_WORDS = 6


class Cleaned(NamedTuple):
    """A document's parts after cleaning."""

    title: str
    date: str | None  # ISO 8601, when the document states a full date
    source: str | None  # the attribution line, kept as metadata
    text: str
    title_derived: bool = False  # no headline: the title was cut from the first informative sentence


def _is_list_like(line: str) -> bool:
    return bool(LIST_ITEM.match(line)) or (len(line) < SHORT_LINE and not line.endswith(tuple(SENTENCE_END)))


def drop_navigation(lines: Sequence[str]) -> list[str]:
    """Remove navigation headings and the list-like lines that follow them."""
    kept, in_nav = [], False
    for line in lines:
        if line.casefold().rstrip(":") in NAV_HEADINGS:
            in_nav = True
        elif not (in_nav and _is_list_like(line)):
            in_nav = False
            kept.append(line)
    return kept


def _iso(day: str, month: str, year: str) -> str | None:
    d, m = int(day), int(month)
    return f"{int(year):04d}-{m:02d}-{d:02d}" if 1 <= d <= 31 and 1 <= m <= 12 else None


def clean(raw: Extracted, fallback_title: str) -> Cleaned:
    """A reader's output cleaned; see the module docstring for the rules."""
    lines = [line.strip() for line in normalize(raw.text, keep_lines=True).split("\n") if line.strip()]
    lines = drop_navigation(lines)
    source, date, body = None, raw.date, []
    for line in lines:
        if (m := SOURCE_LINE.match(line)) and len(line) < 300:
            source = source or m.group("source") or m.group("site")
        elif (m := DATE_LINE.match(line)) and _iso(*m.groups()):
            date = date or _iso(*m.groups())
        else:
            body.append(line)
    if date is None:
        for line in body[:3]:
            if (m := FULL_DATE.search(line)) and (date := _iso(*m.groups())):
                break
    title = normalize(raw.title or "") or None  # a blank title in a file's metadata is no title
    if title is not None and (PLACEHOLDER_TITLE.match(title) or title.casefold() == fallback_title.casefold()):
        title = None  # a program's placeholder, or the file's own name: no title
    if len(body) > 1 and is_headline(body[0]):
        title = title or body[0]
        if body[0] == title:
            body = body[1:]
    derived = title is None
    if title is None:  # no headline: the first informative sentence, else the first line, else the file's name
        words = (body[0] if body else fallback_title).split()
        title = derive_title(body) or " ".join(words[:12]) + ("…" if len(words) > 12 else "")
    return Cleaned(title, date, source, "\n".join(drop_repeats(body)), derived)


def caption_like(line: str) -> bool:
    """A photo caption or an attendance line, not what a document is about.

    >>> caption_like("Toàn cảnh cuộc làm việc"), caption_like("Tham dự cuộc họp còn có các Phó Chủ nhiệm.")
    (True, True)
    >>> caption_like("Chủ tịch Quốc hội làm việc với Văn phòng Quốc hội")
    False
    """
    return bool(CAPTION.search(line))


def is_headline(line: str) -> bool:
    """A first line that names the document: short, no final stop, not a caption, not a table row."""
    return (
        len(line) <= 200
        and not line.endswith(tuple(SENTENCE_END))
        and not caption_like(line)
        and " | " not in line
        and len(line.split()) >= 2
    )


def derive_title(body: Sequence[str]) -> str | None:
    """The first informative sentence of the first paragraphs (not caption-like, six words or more), cut.

    >>> derive_title(["Toàn cảnh cuộc họp", "Sáng 7/9, Văn phòng Quốc hội họp giao ban với các vụ, đơn vị."])
    'Sáng 7/9, Văn phòng Quốc hội họp giao ban với các vụ, đơn vị'
    """
    for paragraph in body[:10]:
        for a, b in split_sentences(paragraph):
            sentence = paragraph[a:b].strip()
            words = sentence.split()
            if len(words) >= MIN_TITLE_WORDS and not caption_like(sentence) and " | " not in sentence:
                if len(words) <= CLAUSE_WORDS[1]:
                    return normalize(sentence.rstrip(".!?…")) or None
                # at the end of a clause when one ends soon enough, else after TITLE_WORDS words
                ends = [i for i in range(*CLAUSE_WORDS) if words[i - 1].endswith((",", ";", ":"))]
                return normalize(" ".join(words[: ends[0] if ends else TITLE_WORDS]).rstrip(",;:") + "…")
    return None


def drop_repeats(paragraphs: Sequence[str], min_chars: int = 30) -> list[str]:
    """Keep each sentence of `min_chars` or more once: a repeated paragraph, or its repeated sentences, go.

    >>> long = "Câu thứ nhất này đủ dài để so sánh."
    >>> drop_repeats([long + " Câu hai.", "Mới.", long + " Câu ba.", "Mới."])
    ['Câu thứ nhất này đủ dài để so sánh. Câu hai.', 'Mới.', 'Câu ba.']
    """
    seen: set[str] = set()
    seen_paragraphs: set[str] = set()
    kept_paragraphs = []
    for paragraph in paragraphs:
        if paragraph.casefold() in seen_paragraphs:  # a repeated paragraph, however short (captions repeat)
            continue
        seen_paragraphs.add(paragraph.casefold())
        sentences = [paragraph[a:b] for a, b in split_sentences(paragraph)]
        kept = []
        for sentence in sentences:
            key = sentence.casefold()
            if len(key) >= min_chars and key in seen:
                continue
            seen.add(key)
            kept.append(sentence)
        if kept:
            kept_paragraphs.append(paragraph if len(kept) == len(sentences) else " ".join(kept))
    return kept_paragraphs

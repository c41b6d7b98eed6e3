"""Cleaning a reader's text into a document's title, date, source and body: the same rules for every format.

After `rag.text.normalize`:
- navigation blocks are dropped: a line that is exactly a known navigation heading
  ("Tin cùng chuyên mục", "Xem tin theo ngày", "Tin liên quan", …) and the list-like
  lines after it (bullets, or short lines that end without a stop), up to the next
  real paragraph. A document without such a heading loses nothing;
- the source attribution ("Nguồn …", "Theo: …" on a line of its own) and a line that is
  only a date become metadata and leave the text; a leading headline (short, no final
  stop) becomes the title;
- a paragraph, or a sentence of 30 characters or more, repeated inside the document is
  kept once (the first time): the seeds repeat whole paragraphs and parts of them.
This module does not read files (`rag.readers`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

from rag.chunking import split_sentences
from rag.readers import Extracted
from rag.text import normalize

CLEANING_VERSION = 1  # bump when cleaning changes its output: the index rebuilds
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


class Cleaned(NamedTuple):
    """A document's parts after cleaning."""

    title: str
    date: str | None  # ISO 8601, when the document states a full date
    source: str | None  # the attribution line, kept as metadata
    text: str


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
    if len(body) > 1 and len(body[0]) <= 200 and not body[0].endswith(tuple(SENTENCE_END)):
        title = title or body[0]
        if body[0] == title:
            body = body[1:]
    if title is None:
        words = (body[0] if body else fallback_title).split()
        title = " ".join(words[:12]) + ("…" if len(words) > 12 else "")
    return Cleaned(title, date, source, "\n".join(drop_repeats(body)))


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

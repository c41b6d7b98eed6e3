"""Split cleaned document text into sentences, and sentences into chunks for the embedder.

Sentences: a line break always ends one; inside a line, ".", "!", "?" or "…" (with any
closing quotes or brackets) ends one only when whitespace and then a capital letter, a
digit or an opening quote, bracket or dash follow, and the word before the stop is not
a known abbreviation. So "TP.Hồ Chí Minh", "30.087", "7/9", "19-KL/TW" and
"161/2021/QH14" stay whole.

Chunks: whole sentences packed greedily up to `max_tokens` of the embedder's tokens,
with the last sentences of a chunk (up to `overlap_tokens`) repeated at the start of
the next; a sentence longer than a chunk is cut between words. Every chunk records
its character span in the document's text, and its id hashes the document id, the
span and the text, so ids are stable across runs. This module counts tokens through
the function it is given; it does not load a tokenizer, embed or index.

>>> text = "Sáng 7/9, tại TP. Hồ Chí Minh có 30.087 lượt. Văn bản 161/2021/QH14 được nêu!\\nDòng mới"
>>> [text[a:b] for a, b in split_sentences(text)]
['Sáng 7/9, tại TP. Hồ Chí Minh có 30.087 lượt.', 'Văn bản 161/2021/QH14 được nêu!', 'Dòng mới']
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass

CHUNKING_VERSION = 2  # bump when the output of this module changes: the index rebuilds
# Titles and place words whose stop does not end a sentence: "TP. Hồ Chí Minh", "PGS. TS. Nguyễn", "Q. 1".
ABBREVIATIONS = frozenset(
    [
        "tp",
        "tt",
        "tx",
        "q",
        "p",
        "gs",
        "pgs",
        "ts",
        "ths",
        "th.s",
        "bs",
        "ks",
        "ls",
        "ds",
        "cn",
        "st",
        "mr",
        "mrs",
        "dr",
        "no",
        "vs",
        "tr",
    ]
)
STOPS = re.compile(r"[.!?…]+[\"”’')\]]*(?=\s)")
INITIALS = re.compile(r"[A-ZĐ](?:\.[A-ZĐ])*")  # a person's initials before a stop
OPENERS = "\"“‘'([-–—•"


@dataclass(frozen=True)
class TextChunk:
    """A span of a document's text, ready to embed."""

    id: str
    start: int
    end: int
    text: str
    tokens: int


NEXT_CHARACTER = re.compile(r"\s*(\S)")
LAST_WORD = re.compile(r"(\S*)\s*$")


def _ends_sentence(line: str, stop: re.Match[str]) -> bool:
    # Only the neighbourhood of the stop is looked at: copying the rest of the line for each stop made a
    # long line of many sentences (a flat HTML list) quadratic.
    following = NEXT_CHARACTER.match(line, stop.end())
    if not following or not (following[1].isupper() or following[1].isdigit() or following[1] in OPENERS):
        return False
    before = LAST_WORD.search(line, max(0, stop.start() - 16), stop.start())  # abbreviations are short
    if before and INITIALS.fullmatch(before[1]):  # "Nicholas E. Golovin", "E.I. du Pont": a name goes on
        return False
    return not before or before[1].lower() not in ABBREVIATIONS


def split_sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) character spans of the sentences of `text`, whitespace trimmed, in order."""
    spans: list[tuple[int, int]] = []
    offset = 0
    for line in text.split("\n"):
        start = 0
        for stop in STOPS.finditer(line):
            if _ends_sentence(line, stop):
                spans.append((offset + start, offset + stop.end()))
                start = stop.end()
        spans.append((offset + start, offset + len(line)))
        offset += len(line) + 1
    return [trimmed for a, b in spans if (trimmed := _trim(text, a, b))[0] < trimmed[1]]


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _cut_long(text: str, start: int, end: int, count: Callable[[str], int], max_tokens: int) -> list[tuple[int, int]]:
    """Cut one over-long sentence between words into pieces of at most `max_tokens` (a word longer stays whole)."""
    words = [(m.start() + start, m.end() + start) for m in re.finditer(r"\S+", text[start:end])]
    pieces, first = [], 0
    while first < len(words):
        last = first + 1
        while last < len(words) and count(text[words[first][0] : words[last][1]]) <= max_tokens:
            last += 1
        pieces.append((words[first][0], words[last - 1][1]))
        first = last
    return pieces


def chunk_text(
    doc_id: str,
    text: str,
    count_tokens: Callable[[str], int],
    max_tokens: int = 200,
    overlap_tokens: int = 40,
) -> list[TextChunk]:
    """Pack the sentences of `text` into chunks of at most `max_tokens`, overlapping by up to `overlap_tokens`."""
    if not 0 <= overlap_tokens < max_tokens:
        raise ValueError("overlap_tokens must be at least 0 and below max_tokens")
    units: list[tuple[int, int, int]] = []  # (start, end, tokens)
    for a, b in split_sentences(text):
        n = count_tokens(text[a:b])
        pieces = [(a, b)] if n <= max_tokens else _cut_long(text, a, b, count_tokens, max_tokens)
        units.extend((p, q, n if len(pieces) == 1 else count_tokens(text[p:q])) for p, q in pieces)

    chunks: list[TextChunk] = []
    current: list[tuple[int, int, int]] = []
    for unit in units:
        if current and sum(u[2] for u in current) + unit[2] > max_tokens:
            chunks.append(_make(doc_id, text, current))
            carried: list[tuple[int, int, int]] = []
            for previous in reversed(current):
                if sum(u[2] for u in carried) + previous[2] > overlap_tokens:
                    break
                carried.insert(0, previous)
            current = carried if sum(u[2] for u in carried) + unit[2] <= max_tokens else []
        current.append(unit)
    if current:
        chunks.append(_make(doc_id, text, current))
    return chunks


def _make(doc_id: str, text: str, units: list[tuple[int, int, int]]) -> TextChunk:
    start, end = units[0][0], units[-1][1]
    body = text[start:end]
    digest = hashlib.sha256(f"{doc_id}\0{start}\0{end}\0{body}".encode()).hexdigest()[:16]
    return TextChunk(digest, start, end, body, sum(u[2] for u in units))

"""Properties of the text functions on arbitrary input: normalisation, sentences, chunks, citations, cleaning.

Hypothesis draws hostile text (any Unicode but surrogates, combining marks, decomposed Vietnamese,
invisible and control characters, every kind of line break, fake citation markers) and each test
checks what the function promises in its docstring. Each example is counted in the reliability tally.
"""

from __future__ import annotations

import re
import unicodedata
from itertools import pairwise

from conftest import Tally
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rag.chunking import OPENERS, chunk_text, split_sentences
from rag.cleaning import clean
from rag.readers import Extracted
from rag.text import fold, normalize
from rag.verify import CITATION, check, cited_numbers, split_claims, supports

VIETNAMESE = [
    "Hoà bình",
    "sức khoẻ",
    "Thuý",
    "Uỷ ban Thường vụ Quốc hội",
    "người",
    "quý",
    "già gìn giữ",
    "khuỷu",
    "Quốc hội khóa XV",
    "Sáng 7/9, tại TP. Hồ Chí Minh có 30.087 lượt.",
    "Văn bản 161/2021/QH14 được nêu!",
    "Ông Trần Thanh Mẫn chủ trì.",
    "Đỗ Bá Tỵ",
    "café",
    "Gdańsk",
    "Nguồn: baochinhphu.vn",
    "Ngày 05/01/2021",
    "Tin liên quan",
    "PGS. TS. Nguyễn",
]
TRICKY = [
    # invisible characters, and combining marks on their own (tones, circumflex, breve, horn, others)
    *"\u200b\u200c\u200d\u2060\ufeff\u00ad",
    *"\u0300\u0301\u0303\u0309\u0323\u0302\u0306\u031b\u0308\u0340\u0341\u0344\u0951\u0f73",
    # line breaks and spaces of every kind, control characters
    *"\n\r\t\x0b\x0c\x1c\x1d\x1e\x1f\x85\u2028\u2029\u00a0\u1680\u2000\u200a\u202f\u205f\u3000",
    *"\x00\x01\x07\x1b\x7f\x9f",
    "\r\n",
    "\n\n",
    " \n \n ",
    # sentence stops, quotes, abbreviations, numbers
    ". ",
    "! ",
    "? ",
    "… ",
    '." ',
    ".) ",
    "”. ",
    "TP. ",
    "...",
    "30.087",
    "7/9",
    "- ",
    "• ",
    # citation markers, real and fake
    "[1]",
    "[2]",
    "[0]",
    "[9]",
    "[-1]",
    "[99999999999999999999]",
    "[1,2]",
    "[1-3]",
    "[1–99999999]",
    "[ 2 ; 3 ]",
    "[[1]]",
    "[1[2]]",
    "[1]]",
    "[[",
    "]",
    "［1］",
    "【1】",
    "[١]",
    "[１]",
    "[²]",
    "[" + "7" * 5000 + "]",
    "[" + "0" * 5000 + "1]",
    # emoji, with joiners and variation selectors
    "😀",
    "👩‍👩‍👧",
    "❤️",
    "🇻🇳",
]
PIECE = st.one_of(
    st.characters(exclude_categories=["Cs"]),
    st.characters(categories=["Mn", "Mc", "Me", "Zs", "Zl", "Zp", "Cc", "Cf"]),
    st.sampled_from(TRICKY),
    st.sampled_from(VIETNAMESE),
    st.sampled_from(VIETNAMESE).map(lambda s: unicodedata.normalize("NFD", s)),
)
hostile = st.one_of(st.text(st.characters(exclude_categories=["Cs"])), st.lists(PIECE, max_size=40).map("".join))
# 1,000 examples a test (about 15 s for the file); no example database: a failure prints its example.
# The tally fixture is the same object for every example, so the function-scoped fixture is harmless.
PROPERTIES = settings(
    max_examples=1000, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def words(text: str) -> int:
    return len(text.split())


def covered(text: str, spans: list[tuple[int, int]]) -> bool:
    """Whether every non-whitespace character of `text` lies in one of `spans`."""
    inside = [False] * len(text)
    for a, b in spans:
        inside[a:b] = [True] * (b - a)
    return all(inside[i] or c.isspace() for i, c in enumerate(text))


# normalisation


@PROPERTIES
@given(text=hostile, keep_lines=st.booleans())
def test_normalize_is_idempotent(text: str, keep_lines: bool, tally: Tally) -> None:
    once = normalize(text, keep_lines=keep_lines)
    assert normalize(once, keep_lines=keep_lines) == once
    assert unicodedata.is_normalized("NFC", once)
    assert once == once.strip()
    assert not any(c in once for c in "\u200b\u200c\u200d\u2060\ufeff\u00ad\r")
    if keep_lines:
        assert "\n\n\n" not in once and all(line == line.strip() for line in once.split("\n"))
        assert " ".join(once.split()) == normalize(text)  # the same text, only the line breaks kept
    else:
        assert once == " ".join(once.split())
    tally.add("arbitrary Unicode inputs tried (property tests)")


@PROPERTIES
@given(text=hostile)
def test_fold_is_idempotent(text: str, tally: Tally) -> None:
    once = fold(text)
    if not re.search(r"(?<!\d)0\d", once):  # "1.05" folds to "1 05", whose zero a second fold drops
        assert fold(once) == once
    assert once == " ".join(once.split()) and once == once.casefold()
    assert not re.search(r"[\W_]", once.replace(" ", ""))  # punctuation became spaces
    tally.add("arbitrary Unicode inputs tried (property tests)")


# sentences and chunks


@PROPERTIES
@given(text=hostile)
def test_sentences_cover_the_text(text: str, tally: Tally) -> None:
    spans = split_sentences(text)
    ends = [0]
    for a, b in spans:
        assert ends[-1] <= a < b <= len(text)  # valid, in order, not overlapping
        assert not text[a].isspace() and not text[b - 1].isspace()  # trimmed
        assert "\n" not in text[a:b]  # a line break always ends a sentence
        ends.append(b)
    for (_, b), (c, _) in pairwise(spans):
        if "\n" not in text[b:c]:  # inside a line, after a stop and before a capital, a digit or an opener
            assert text[b - 1] in ".!?…\"”’')]" and (text[c].isupper() or text[c].isdigit() or text[c] in OPENERS)
    assert covered(text, spans)
    tally.add("arbitrary Unicode inputs tried (property tests)")


@PROPERTIES
@given(text=hostile, max_tokens=st.integers(1, 30), overlap=st.integers(0, 30), by_chars=st.booleans())
def test_chunks_cover_the_cleaned_text(text: str, max_tokens: int, overlap: int, by_chars: bool, tally: Tally) -> None:
    text = normalize(text, keep_lines=True)  # as ingest cleans documents before chunking
    overlap %= max_tokens
    count = len if by_chars else words
    chunks = chunk_text("doc", text, count, max_tokens, overlap)
    for c in chunks:
        assert 0 <= c.start < c.end <= len(text) and c.text == text[c.start : c.end]
        assert c.text == c.text.strip()
        assert c.tokens <= max_tokens or len(c.text.split()) == 1  # only a single over-long word is over
    for before, after in pairwise(chunks):
        assert before.start < after.start and before.end < after.end
        if after.start < before.end:  # the overlap: whole sentences of at most `overlap` tokens
            assert count(text[after.start : before.end]) <= overlap or by_chars
    assert covered(text, [(c.start, c.end) for c in chunks])
    assert chunk_text("doc", text, count, max_tokens, overlap) == chunks  # stable ids
    assert len({c.id for c in chunks}) == len(chunks)
    assert not {c.id for c in chunks} & {c.id for c in chunk_text("other", text, count, max_tokens, overlap)}
    tally.add("arbitrary Unicode inputs tried (property tests)")


@PROPERTIES
@given(text=hostile, title=st.none() | hostile)
def test_clean_leaves_normalised_text(text: str, title: str | None, tally: Tally) -> None:
    title_out, date, source, body, _ = clean(Extracted(text, title=title), fallback_title="tài liệu")
    assert body == normalize(body, keep_lines=True) and "\n\n" not in body
    assert title_out == normalize(title_out) and title_out
    assert date is None or re.fullmatch(r"\d{4}-\d{2}-\d{2}", date)
    assert source is None or source == source.strip()
    tally.add("arbitrary Unicode inputs tried (property tests)")


# citations


@PROPERTIES
@given(marker=hostile)
def test_cited_numbers_are_ints(marker: str, tally: Tally) -> None:
    numbers = cited_numbers(marker)
    assert all(type(n) is int and n >= 0 for n in numbers)
    tally.add("arbitrary Unicode inputs tried (property tests)")


@PROPERTIES
@given(numbers=st.lists(st.integers(0, 10**9 - 1), max_size=5), separator=st.sampled_from([",", ", ", " ;", ";  "]))
def test_cited_numbers_read_back_what_was_written(numbers: list[int], separator: str, tally: Tally) -> None:
    assert cited_numbers(separator.join(map(str, numbers))) == numbers
    if numbers:
        low, high = numbers[0], numbers[-1]
        assert cited_numbers(f" {low} – {high} ") == list(range(low, min(high, low + 20) + 1))  # at most 21
    tally.add("arbitrary Unicode inputs tried (property tests)")


@PROPERTIES
@given(reply=hostile)
def test_claims_lose_their_markers(reply: str, tally: Tally) -> None:
    for text, cites in split_claims(reply):
        assert fold(text) and text == text.strip()
        assert not CITATION.search(text)
        assert all(type(n) is int for n in cites)
    tally.add("arbitrary Unicode inputs tried (property tests)")


SENTENCES = [
    "Quốc hội khóa XV có 499 đại biểu.",
    "Ông Trần Thanh Mẫn chủ trì phiên họp ngày 7/9.",
    "Văn phòng Quốc hội chuyển giao 51 Văn phòng Đoàn.",
    "Hà Nội có 30.087 lượt khách.",
]
MARKERS = ["[1]", "[2]", "[3]", "[0]", "[9]", "[-1]", "[1,2]", "[1-3]", "[9[1]]", "［1］", "[99999999999999999999]"]
passages = st.lists(
    st.lists(st.sampled_from(SENTENCES) | hostile, min_size=1, max_size=3).map(" ".join), min_size=0, max_size=4
)
# replies the verifier may accept (the passages' sentences, markers true and false), and hostile ones
replies = st.lists(st.sampled_from(SENTENCES) | st.sampled_from(MARKERS), max_size=8).map(" ".join) | st.lists(
    st.sampled_from(SENTENCES) | st.sampled_from(TRICKY) | hostile, max_size=8
).map(" ".join)


@PROPERTIES
@given(reply=replies, passages=passages, question=st.sampled_from(["Quốc hội có bao nhiêu đại biểu?", ""]) | hostile)
def test_check_cites_only_passages_that_exist(reply: str, passages: list[str], question: str, tally: Tally) -> None:
    verdict = check(reply, passages, question)
    assert verdict.ok == bool(verdict.claims) and (verdict.ok or verdict.reason)
    for claim in verdict.claims:
        assert claim.cites and all(type(n) is int and 1 <= n <= len(passages) for n in claim.cites)
        assert all(supports(claim.text, passages[n - 1], question) for n in claim.cites)
    tally.add("arbitrary Unicode inputs tried (property tests)")

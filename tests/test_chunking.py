"""Sentence splitting and chunking on hand-worked Vietnamese examples."""

from __future__ import annotations

import pytest

from rag.chunking import chunk_text, split_sentences


def words(text: str) -> int:
    """A stand-in token counter: one token a word."""
    return len(text.split())


def sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in split_sentences(text)]


@pytest.mark.parametrize(
    "whole",
    [
        "Đoàn công tác làm việc tại TP.Hồ Chí Minh trong hai ngày.",
        "Năm 2020 có 30.087 lượt cử tri được tiếp.",
        "Sáng 7/9, tại Nhà Quốc hội, cuộc họp đã diễn ra.",
        "Thực hiện Kết luận số 19-KL/TW của Bộ Chính trị.",
        "Theo Nghị quyết số 161/2021/QH14 của Quốc hội.",
        "Dự án có vốn đầu tư 19.784 tỷ đồng.",
        "PGS. TS. Nguyễn Văn A phát biểu tại TP. Hồ Chí Minh.",
    ],
)
def test_does_not_break_inside_numbers_codes_and_abbreviations(whole: str) -> None:
    assert sentences(whole) == [whole]


def test_breaks_between_sentences_and_at_line_ends() -> None:
    text = "Câu một kết thúc. Câu hai hỏi? “Câu ba” trích dẫn! 2021 là năm đầu.\n- Mục một\n\nĐoạn mới./."
    assert sentences(text) == [
        "Câu một kết thúc.",
        "Câu hai hỏi?",
        "“Câu ba” trích dẫn!",
        "2021 là năm đầu.",
        "- Mục một",
        "Đoạn mới./.",
    ]


def test_a_stop_before_a_lower_case_word_is_not_a_boundary() -> None:
    assert sentences("Ông A. nói rằng... mọi việc ổn.") == ["Ông A. nói rằng... mọi việc ổn."]


def test_spans_point_into_the_text() -> None:
    text = "  Một hai ba.   Bốn năm.  \n  Sáu  "
    spans = split_sentences(text)
    assert [text[a:b] for a, b in spans] == ["Một hai ba.", "Bốn năm.", "Sáu"]
    assert spans[0] == (2, 13)


def test_chunks_pack_sentences_and_overlap_by_whole_sentences() -> None:
    # sentences of 3, 2 and 4 words; at most 6 a chunk, overlap up to 2:
    # [s1 s2] = 5; adding s3 would make 9 -> new chunk, carrying s2 (2 <= 2): [s2 s3] = 6
    text = "Một hai ba. Bốn năm. Sáu bảy tám chín."
    chunks = chunk_text("doc", text, words, max_tokens=6, overlap_tokens=2)
    assert [c.text for c in chunks] == ["Một hai ba. Bốn năm.", "Bốn năm. Sáu bảy tám chín."]
    assert [c.tokens for c in chunks] == [5, 6]
    assert all(text[c.start : c.end] == c.text for c in chunks)


def test_no_overlap_when_it_would_not_fit() -> None:
    text = "Một hai ba. Bốn năm sáu bảy."
    chunks = chunk_text("doc", text, words, max_tokens=4, overlap_tokens=3)
    assert [c.text for c in chunks] == ["Một hai ba.", "Bốn năm sáu bảy."]


def test_an_over_long_sentence_is_cut_between_words() -> None:
    text = "một hai ba bốn năm sáu bảy tám chín mười mười một."
    chunks = chunk_text("doc", text, words, max_tokens=4, overlap_tokens=0)
    assert [c.text for c in chunks] == ["một hai ba bốn", "năm sáu bảy tám", "chín mười mười một."]
    assert all(c.tokens <= 4 for c in chunks)


def test_ids_are_stable_and_depend_on_document_and_span() -> None:
    text = "Một hai ba. Bốn năm. Sáu bảy tám chín."
    first = chunk_text("doc-a", text, words, max_tokens=6, overlap_tokens=2)
    again = chunk_text("doc-a", text, words, max_tokens=6, overlap_tokens=2)
    other = chunk_text("doc-b", text, words, max_tokens=6, overlap_tokens=2)
    assert [c.id for c in first] == [c.id for c in again]
    assert not {c.id for c in first} & {c.id for c in other}
    assert len({c.id for c in first}) == len(first)


def test_overlap_must_be_smaller_than_a_chunk() -> None:
    with pytest.raises(ValueError, match="overlap_tokens"):
        chunk_text("doc", "Một.", words, max_tokens=4, overlap_tokens=4)

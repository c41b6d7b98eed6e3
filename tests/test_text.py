"""Vietnamese normalisation on hand-worked examples."""

from __future__ import annotations

import unicodedata

import pytest

from rag.text import normalize, place_tone


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("hoà", "hòa"),
        ("thuý", "thúy"),
        ("Khoẻ mạnh", "Khỏe mạnh"),
        ("Uỷ ban Thường vụ", "Ủy ban Thường vụ"),
        ("hoá học", "hóa học"),
        ("thuỵ sĩ", "thụy sĩ"),
    ],
)
def test_both_tone_placements_normalise_to_one(a: str, b: str) -> None:
    assert normalize(a) == normalize(b) == b


def test_decomposed_input_becomes_precomposed() -> None:
    decomposed = unicodedata.normalize("NFD", "Quốc hội khóa XV")
    assert decomposed != "Quốc hội khóa XV"
    assert normalize(decomposed) == "Quốc hội khóa XV"


def test_invisible_characters_and_whitespace() -> None:
    assert normalize("\ufeffVăn\u200b phòng\u00a0 Quốc\thội\n\n") == "Văn phòng Quốc hội"
    assert normalize("dòng một  \r\n\r\n\r\n dòng\u200c hai \n ba", keep_lines=True) == "dòng một\n\ndòng hai\nba"


@pytest.mark.parametrize(
    "word",
    ["hoàng", "người", "quý", "quyết", "giữ", "gìn", "khuyến", "tiếng", "Huệ", "ngoài", "khuỷu", "QH14"],
)
def test_canonical_syllables_are_unchanged(word: str) -> None:
    assert place_tone(word) == word


@pytest.mark.parametrize("word", ["Léon", "Díaz", "Zhōngguó", "Gdańsk", "café", "Páez"])
def test_foreign_words_are_left_alone(word: str) -> None:
    assert normalize(word) == word


def test_codes_numbers_and_dates_survive() -> None:
    text = "Nghị quyết 161/2021/QH14, Kết luận 19-KL/TW, 30.087 lượt, ngày 7/9, TP.Hồ Chí Minh"
    assert normalize(text) == text

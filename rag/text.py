"""Vietnamese text normalisation, applied identically to documents and to questions.

`normalize` makes text that *means* the same compare equal:
- Unicode NFC (a precomposed "ọ" and "o" + combining dot below are one letter);
- zero-width characters, soft hyphens and byte-order marks removed;
- one canonical tone-mark placement: the "old style" that Vietnamese news and
  Wikipedia mostly use and that the seeds use ("hòa", "thúy", "khỏe", "Ủy ban"), so
  "hoà"/"hòa" and "thuý"/"thúy" match;
- whitespace folded (runs of spaces and tabs to one space; line breaks kept when asked).

It changes nothing else: no lower-casing, no diacritic stripping, no word segmentation
(those belong to the lexical index). Words that are not Vietnamese syllables (loanwords
such as "café", codes such as "QH14") are left as they are.

>>> normalize("Hoà  bình\u200b và sức khoẻ  ")
'Hòa bình và sức khỏe'
>>> normalize("Thuý") == normalize("Thúy") == "Thúy"
True
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

NORMALIZATION_VERSION = 1  # bump when `normalize` changes its output: the index rebuilds
TONES = frozenset("\u0300\u0301\u0303\u0309\u0323")  # huyền, sắc, ngã, hỏi, nặng
VOWELS = frozenset("aăâeêioôơuưy")
MODIFIED = frozenset("ăâêôơư")  # vowels with a circumflex, breve or horn take the tone
SINGLE = frozenset(VOWELS)
_OPEN = (
    "ai ao au âu ay ây eo êu ia iu oa oe oi ôi ơi ua uê ui uơ ưa ưi ưu uy "  # two vowels
    "iêu yêu oai oay oeo uây uôi ươi ươu uya uyu"  # three
)
OPEN_NUCLEI = SINGLE | frozenset(_OPEN.split())
_CLOSED = "oa oă oe oo iê yê uâ uê uô ươ uy uyê"
CLOSED_NUCLEI = SINGLE | frozenset(_CLOSED.split())
FINALS = frozenset(["", "c", "ch", "m", "n", "ng", "nh", "p", "t"])
INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
LETTERS = re.compile(r"[^\W\d_]+")
SPACES = re.compile(r"[^\S\n]+")  # whitespace other than line breaks
LINE_BREAKS = re.compile(r"\s*\n\s*")


@lru_cache(maxsize=65536)
def place_tone(syllable: str) -> str:
    """Move the tone mark of one syllable to its canonical (old-style) vowel.

    The rule: a vowel with a circumflex, breve or horn takes the tone (the last such, for
    "ươ"); else a lone vowel; else, when a consonant closes the syllable, the last vowel;
    else the second-to-last vowel. "qu" and "gi" before a vowel are initial consonants.
    Only Vietnamese syllables are touched: a known vowel nucleus, a known final consonant,
    the mark on a vowel.

    >>> [place_tone(s) for s in ["hoà", "thuý", "khoẻ", "Uỷ", "hoàng", "người", "quý", "già", "gì", "café", "Léon"]]
    ['hòa', 'thúy', 'khỏe', 'Ủy', 'hoàng', 'người', 'quý', 'già', 'gì', 'café', 'Léon']
    """
    decomposed = unicodedata.normalize("NFD", syllable)
    tones = [i for i, c in enumerate(decomposed) if c in TONES]
    if len(tones) != 1:
        return syllable
    carrier = tones[0] - 1
    while carrier > 0 and unicodedata.combining(decomposed[carrier]):
        carrier -= 1
    if carrier < 0 or decomposed[carrier].lower() not in "aeiouy":
        return syllable  # a mark on a consonant ("Gdańsk"): not Vietnamese
    tone = decomposed[tones[0]]
    base = unicodedata.normalize("NFC", decomposed.replace(tone, ""))
    lower = base.lower()
    start = 2 if lower[:2] in ("qu", "gi") and len(lower) > 2 and lower[2] in VOWELS else 0
    first = start
    while first < len(lower) and lower[first] not in VOWELS:
        first += 1
    end = first
    while end < len(lower) and lower[end] in VOWELS:
        end += 1
    nucleus, final = lower[first:end], lower[end:]
    if final not in FINALS or nucleus not in (CLOSED_NUCLEI if final else OPEN_NUCLEI):
        return syllable  # not a Vietnamese syllable ("Léon", "Díaz", "Zhōngguó"): leave it
    modified = [i for i in range(first, end) if lower[i] in MODIFIED]
    if modified:
        at = modified[-1]
    elif end - first == 1:
        at = first
    elif end < len(lower):
        at = end - 1
    else:
        at = end - 2
    return unicodedata.normalize("NFC", base[: at + 1] + tone + base[at + 1 :])


def _place_tone_in(word: re.Match[str]) -> str:
    """`place_tone` on a word of NFC text, unless a combining mark follows it: the mark did not compose, so the word
    is not Vietnamese, and moving its tone could let the mark compose (the output would not be NFC)."""
    following = word.string[word.end() : word.end() + 1]
    return word.group() if following and unicodedata.combining(following) else place_tone(word.group())


def normalize(text: str, keep_lines: bool = False) -> str:
    """NFC, invisible characters removed, canonical tone marks, whitespace folded.

    With `keep_lines`, line breaks survive (one per break; blank lines between paragraphs
    fold to one empty line), which is what document cleaning needs.

    >>> normalize("Dòng một \\n\\n\\n  dòng  hai", keep_lines=True)
    'Dòng một\\n\\ndòng hai'
    """
    text = unicodedata.normalize("NFC", text.translate(INVISIBLE))
    text = LETTERS.sub(_place_tone_in, text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not keep_lines:
        return " ".join(text.split())
    text = SPACES.sub(" ", text)
    text = LINE_BREAKS.sub(lambda m: "\n\n" if m.group().count("\n") > 1 else "\n", text)
    return text.strip()


NUMBER_SEPARATOR = re.compile(r"(?<=\d)[.,](?=\d{3}\b)")
LEADING_ZEROS = re.compile(r"(?<![\d.,])0+(?=\d)")
NOT_WORD = re.compile(r"[\W_]+")


def fold(text: str) -> str:
    """`normalize`, then case, punctuation and number formats folded: the form answers are compared in.

    Thousands separators go ("30.087" = "30087"), leading zeros go ("05/01" = "5/1"),
    punctuation becomes a space. Used alike for gold answers, model answers and passages.

    >>> fold("Ngày 05/01/2021, có 30.087 lượt (Hoà Bình)!")
    'ngày 5 1 2021 có 30087 lượt hòa bình'
    >>> fold("1,5 tỷ") == fold("1,5 tỷ") and fold("2.000.000") == "2000000"
    True
    """
    text = normalize(text).casefold()
    text = NUMBER_SEPARATOR.sub("", text)
    text = LEADING_ZEROS.sub("", text)
    return normalize(NOT_WORD.sub(" ", text))  # again: a stray mark gone can leave a syllable to place a tone in


def contains(haystack: str, needle: str) -> bool:
    """Whether `needle` occurs in `haystack` as whole words, both already `fold`ed.

    >>> contains("có 17 luật", "17 luật"), contains("có 170 luật", "17 luật")
    (True, False)
    """
    return bool(needle) and f" {needle} " in f" {haystack} "

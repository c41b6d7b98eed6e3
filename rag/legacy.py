"""Pre-Unicode Vietnamese text, TCVN3 (ABC: the .VnTime fonts) and VNI-Windows (VNI-Times), found and converted.

Such text arrives as the raw bytes of a .txt file, or decoded from an .html/.doc/.docx/.pdf whose legacy
font's bytes were read as Windows-1252: TCVN3 "Hà Nội" shows as "Hµ Néi", VNI as "Haø Noäi". The tables are
defined on byte values; a character stands for the byte cp1252 draws as it, or for its own code below 256
(text decoded as Latin-1, U+0081 for the bytes cp1252 leaves undefined). Characters that are no byte are left
alone, and C1 control characters become the Windows punctuation those bytes are in legacy documents.

- TCVN3 is one byte a letter: lower case for all 67 Vietnamese letters, upper case only for Ă Â Ê Ô Ơ Ư Đ.
  Toned capitals were typed with the lowercase codes in an uppercase font (.VnTimeH), so the text cannot tell
  "Hà" from "HÀ": `to_unicode` upper-cases a word, or a line, with two capitals and no ASCII lower case
  ("CéNG HOµ" -> "CỘNG HOÀ") and leaves the rest lower case ("¸p dông" -> "áp dụng"); `from_unicode`
  writes toned capitals with the lowercase codes, as Unikey does. The capitals TCVN 5712 (VN1) puts on the
  control codes 0x01-0x17 are read too, since those bytes mean nothing else; VN1's capitals on 0x80-0x9F are
  not, because in ABC text those bytes are Windows punctuation (“ ” – …).
- VNI writes most letters as a base letter and a mark byte ("aø" = à, "aù" = á), some as one byte (đ ơ ư,
  the i's, ỵ); the longest match is taken first, and a base with a mark of the other case is read too.

`detect` scores cp1252-shaped text: among the distinct words that a conversion would change, the share that
are Vietnamese syllables (`is_syllable`) after converting against the share before. It is None for short
texts and for text already holding Unicode Vietnamese letters.

This module does not guess other encodings (`rag.readers` asks charset-normalizer), does not convert VIQR,
VISCII or VPS, does not convert a text mixing Unicode and legacy parts piece by piece, and cannot restore a
TCVN3 ư whose byte (0xAD, the soft hyphen) an extractor dropped. Use it before `rag.text.normalize`, which
deletes soft hyphens.

>>> repair("Trong kú häp nµy, Quèc héi ®· th¶o luËn vµ th«ng qua nhiÒu luËt quan träng cña ®Êt n\xadíc.")
('Trong kỳ họp này, Quốc hội đã thảo luận và thông qua nhiều luật quan trọng của đất nước.', 'tcvn3')
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Literal

Encoding = Literal["tcvn3", "vni"]
ENCODINGS: tuple[Encoding, ...] = ("tcvn3", "vni")
TONES = ("", "\u0301", "\u0300", "\u0309", "\u0303", "\u0323")  # none, sắc, huyền, hỏi, ngã, nặng

# One row a vowel (and đ): its legacy form with each of TONES in turn, lower case, written as the cp1252
# characters its bytes show as. Checked letter by letter, all 134 letters, against Unikey (xmirror/unikey
# src/vnconv/data.cpp), khiemdoan/VBKey (Modules/mdlCodeTable.bas) and duydev/vietnamese-conversion
# (src/charsets.ts), and the TCVN3 bytes against GNU libiconv's TCVN 5712 (koron/libiconv lib/tcvn.h).
# TCVN3's ư is byte 0xAD, the invisible soft hyphen, written \xad.
TCVN3_ROWS = """
a  a ¸ µ ¶ · ¹
ă  ¨ ¾ » ¼ ½ Æ
â  © Ê Ç È É Ë
e  e Ð Ì Î Ï Ñ
ê  ª Õ Ò Ó Ô Ö
i  i Ý × Ø Ü Þ
o  o ã ß á â ä
ô  « è å æ ç é
ơ  ¬ í ê ë ì î
u  u ó ï ñ ò ô
ư  \xad ø õ ö ÷ ù
y  y ý ú û ü þ
đ  ®
"""
TCVN3_CAPITALS = "Ă¡ Â¢ Ê£ Ô¤ Ơ¥ Ư¦ Đ§"  # the only capitals TCVN3 has codes for
VN1_CAPITALS = "\x01Ú \x02Ụ \x04Ừ \x05Ử \x06Ữ \x11Ứ \x12Ự \x13Ỳ \x14Ỷ \x15Ỹ \x16Ý \x17Ỵ"  # read, never written
# VNI capitals are the upper case of both halves: "AØ" = À, "Ñ" = Đ.
VNI_ROWS = """
a  a  aù aø aû aõ aï
ă  aê aé aè aú aü aë
â  aâ aá aà aå aã aä
e  e  eù eø eû eõ eï
ê  eâ eá eà eå eã eä
i  i  í  ì  æ  ó  ò
o  o  où oø oû oõ oï
ô  oâ oá oà oå oã oä
ơ  ô  ôù ôø ôû ôõ ôï
u  u  uù uø uû uõ uï
ư  ö  öù öø öû öõ öï
y  y  yù yø yû yõ î
đ  ñ
"""

# Thresholds, set from measured scores: legacy forms of the five seed texts score 1.0 after converting and
# 0.07-0.11 before, on 170-600 distinct words making 0.87-0.91 of all words; the same texts in Unicode (NFC,
# or Windows-1258 decoded) score 1.0 before and 0.5-0.83 after, a loss (NFD changes no word at all); vim's
# tutor in 30 languages, English with "µm" units, French "où", German, Spanish score at most 0.5 after, on
# few words. Each threshold sits far from both sides.
SAMPLE = 200_000  # detection reads the first this many characters
MIN_WORDS = 8  # distinct words a conversion changes; fewer (a title, "Hµ Néi") is too little to tell: None
MIN_VALID_AFTER = 0.7  # the share of them that must be Vietnamese syllables once converted (legacy: ~1.0) ...
MIN_GAIN = 0.4  # ... and by how much more than before: Unicode Vietnamese read as TCVN3 stays well-formed
MIN_COVERAGE = 0.1  # the share of all words they must make; an English text quoting some legacy words does not
MAX_UNICODE = 0.05  # words with letters no cp1252 text has (ơ ư đ ạ ...) per changed word: more is Unicode

SHOWN = tuple(bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in range(256))  # byte -> character


def _rows(rows: str) -> dict[str, str]:
    """Unicode letter -> legacy form, in lower case, for each letter in a table above that is not ASCII."""
    table = {}
    for line in rows.strip().splitlines():
        vowel, *forms = line.split()
        for tone, form in zip(TONES, forms, strict=False):
            letter = unicodedata.normalize("NFC", vowel + tone)
            if not letter.isascii():
                table[letter] = "".join(SHOWN[ord(c)] for c in form)
    return table


_TCVN3_LOWER = _rows(TCVN3_ROWS)
_TCVN3_CAPITALS = {pair[0]: SHOWN[ord(pair[1])] for pair in TCVN3_CAPITALS.split()}
TCVN3_ENCODE = {k.upper(): v for k, v in _TCVN3_LOWER.items()} | _TCVN3_CAPITALS | _TCVN3_LOWER  # 134 letters
TCVN3_DECODE = {v: k for k, v in (_TCVN3_LOWER | _TCVN3_CAPITALS).items() if v != k}
TCVN3_DECODE |= {SHOWN[ord(pair[0])]: pair[1] for pair in VN1_CAPITALS.split(" ")}
VNI_ENCODE = _rows(VNI_ROWS)
VNI_ENCODE |= {k.upper(): v.upper() for k, v in VNI_ENCODE.items()}  # 134 letters
VNI_DECODE = {v: k for k, v in VNI_ENCODE.items() if v != k}
VNI_DECODE |= {v[0] + v[1].swapcase(): k for k, v in VNI_ENCODE.items() if len(v) == 2}  # "Aø" = À, "aØ" = à
C1 = {chr(b): SHOWN[b] for b in range(0x80, 0xA0) if SHOWN[b] != chr(b)}  # Latin-1 decoded -> cp1252 character

_ENCODE = {"tcvn3": str.maketrans(TCVN3_ENCODE), "vni": str.maketrans(VNI_ENCODE)}
_TCVN3_TABLE = [TCVN3_DECODE.get(chr(i)) or C1.get(chr(i)) or chr(i) for i in range(256)]  # str.translate, by code
_VNI_ONE = {k: v for k, v in VNI_DECODE.items() if len(k) == 1} | C1
_VNI_BASES = "".join(sorted({k[0] for k in VNI_DECODE if len(k) == 2}))
_VNI_MARKS = "".join(sorted({k[1] for k in VNI_DECODE if len(k) == 2}))
VNI_SEQUENCE = re.compile(f"[{_VNI_BASES}][{_VNI_MARKS}]|[{''.join(_VNI_ONE)}]")
_NOT_LOWER = "A-Z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u1e00-\u1eff"  # letters, less ASCII lower case
ALL_CAPS_LINE = re.compile(r"^(?=[^a-z\n]*+$)(?=(?:[^A-Z\n]*+[A-Z]){2})[^\n]+", re.MULTILINE)  # two capitals
NO_LOWER_WORD = re.compile(f"[{_NOT_LOWER}][{_NOT_LOWER}]++(?![a-z])")  # `_upper_word` keeps whole words

WORD = re.compile(r"(?:[^\W\d_]|[\x01\x02\x04-\x06\x11-\x17\xa1-\xff\u0300-\u036f])+")  # letters, legacy codes
UNICODE_VIETNAMESE = re.compile("[ĂăĐđĨĩŨũƠơƯư\u1ea0-\u1ef9\u0300\u0301\u0303\u0309\u0323]")  # in no cp1252 text


def to_unicode(text: str, encoding: Encoding) -> str:
    """Text in TCVN3 or VNI (cp1252-shaped) converted to Unicode, NFC; what is not Vietnamese is left as it is.

    >>> to_unicode("Hµ Néi, ViÖt Nam", "tcvn3"), to_unicode("Haø Noäi, Vieät Nam", "vni")
    ('Hà Nội, Việt Nam', 'Hà Nội, Việt Nam')
    >>> to_unicode("Hµ Néi: QUèC HéI", "tcvn3"), to_unicode("Haø Noäi: QUOÁC HOÄI", "vni")
    ('Hà Nội: QUỐC HỘI', 'Hà Nội: QUỐC HỘI')
    """
    if encoding == "tcvn3":
        text = text.translate(_TCVN3_TABLE)
        text = ALL_CAPS_LINE.sub(lambda line: line.group().upper(), text)
        text = NO_LOWER_WORD.sub(_upper_word, text)
    elif encoding == "vni":
        text = VNI_SEQUENCE.sub(_vni_letter, text)
    else:
        raise ValueError(f"unknown legacy encoding {encoding!r}; use one of {ENCODINGS}")
    return unicodedata.normalize("NFC", text)


def _upper_word(match: re.Match[str]) -> str:
    word, start = match.group(), match.start()
    if start and match.string[start - 1].isalpha():  # the tail of a word with lower case in it
        return word
    return word.upper() if sum(c.isupper() for c in word) >= 2 else word


def _vni_letter(match: re.Match[str]) -> str:
    found = match.group()
    letter = VNI_DECODE.get(found)
    if letter is not None:
        return letter
    return _VNI_ONE.get(found[0], found[0]) + found[1:]  # a base and a mark it does not take ("uâ")


def from_unicode(text: str, encoding: Encoding) -> str:
    """Unicode text in TCVN3 or VNI, as the cp1252 characters of its bytes. TCVN3 writes toned capitals with
    the lowercase codes, so they come back lower case unless their word or line is in capitals; characters
    neither encoding has are left as they are.

    >>> from_unicode("Quốc hội", "tcvn3"), from_unicode("Quốc hội", "vni")
    ('Quèc héi', 'Quoác hoäi')
    """
    if encoding not in _ENCODE:
        raise ValueError(f"unknown legacy encoding {encoding!r}; use one of {ENCODINGS}")
    return unicodedata.normalize("NFC", text).translate(_ENCODE[encoding])


TONE_MARKS = frozenset(TONES[1:])
LETTERS = frozenset("aăâbcdđeêghiklmnoôơpqrstuưvxy")
ONSETS = ("ngh", "ng", "nh", "ch", "gh", "gi", "kh", "ph", "qu", "th", "tr", *"bcdđghklmnprstvx", "")
FINALS = ("ch", "ng", "nh", *"cmnpt", "")
OPEN = frozenset(
    "a e ê i o ô ơ u ư y ai ao au âu ay ây eo êu ia iu oa oe oi ôi ơi ua uê ui uơ ưa ưi ưu uy "
    "iêu yêu oai oay oeo uây uôi ươi ươu uya uyu".split()
)  # nuclei that end a syllable
CLOSED = frozenset("a ă â e ê i o ô ơ u ư y oa oă oe oo iê yê uâ uê uô ươ uy uyê".split())  # before a final
FRONT = frozenset("ieêy")


@lru_cache(maxsize=65536)
def is_syllable(word: str) -> bool:
    """Whether `word` is one Vietnamese syllable: onset, vowel nucleus, final consonant, at most one tone mark,
    spelt by the rules (k gh ngh only before i e ê y, c g ng never; ă â only before a final; ch nh only after
    a ê i y; after p t c ch only the sắc or nặng tone), in lower, upper or title case.

    >>> [is_syllable(w) for w in ["người", "Quốc", "NGHĨA", "khuỷu", "giữ", "gìn", "hoạch", "ăn"]]
    [True, True, True, True, True, True, True, True]
    >>> [is_syllable(w) for w in ["Néi", "Noäi", "cỏc", "kan", "ă", "hôtel", "été", "vÒ", "Đ"]]
    [False, False, False, False, False, False, False, False, False]
    """
    if not (word.islower() or word.isupper() or (word[:1].isupper() and word[1:].islower())):
        return False
    decomposed = unicodedata.normalize("NFD", word.lower())
    tones = [c for c in decomposed if c in TONE_MARKS]
    if len(tones) > 1:
        return False
    tone = tones[0] if tones else ""
    bare = unicodedata.normalize("NFC", decomposed.replace(tone, "") if tone else decomposed)
    if not bare or not set(bare) <= LETTERS:
        return False
    for onset in ONSETS:
        if bare.startswith(onset):
            rest = bare[len(onset) :]
            for final in FINALS:
                if rest.endswith(final) and _rhyme_ok(onset, rest[: len(rest) - len(final)], final, tone):
                    return True
    return False


def _rhyme_ok(onset: str, nucleus: str, final: str, tone: str) -> bool:
    if nucleus not in (CLOSED if final else OPEN):
        return False
    first = nucleus[0]
    if onset in ("k", "gh", "ngh") and first not in FRONT:
        return False
    if (onset in ("c", "ng") or (onset == "g" and first != "i")) and first in FRONT:
        return False
    if (onset == "qu" and first == "u") or (onset == "gi" and first == "i"):
        return False
    if final in ("ch", "nh") and nucleus not in ("a", "ê", "i", "y", "oa", "uê", "uy"):
        return False
    if final in ("c", "ng") and nucleus in ("ê", "i", "y", "uê", "uy"):
        return False
    return final not in ("c", "ch", "p", "t") or tone in ("\u0301", "\u0323")


def _score(words: list[str], encoding: Encoding) -> tuple[int, float, float, float]:
    """(distinct words the conversion changes, share valid before, share valid after, their share of `words`)."""
    distinct = sorted(set(words))
    if not distinct:
        return 0, 0.0, 0.0, 0.0
    converted = to_unicode("\n".join(distinct), encoding).split("\n")
    changed = {w: new for w, new in zip(distinct, converted, strict=True) if new != unicodedata.normalize("NFC", w)}
    if not changed:
        return 0, 0.0, 0.0, 0.0
    before = sum(is_syllable(word) for word in changed) / len(changed)
    after = sum(is_syllable(new) for new in changed.values()) / len(changed)
    coverage = sum(word in changed for word in words) / len(words)
    return len(changed), before, after, coverage


def detect(text: str) -> Encoding | None:
    """The legacy encoding cp1252-shaped `text` is in, or None (short texts, Unicode, other languages).

    The words of the first SAMPLE characters are converted from each encoding; one whose conversion passes
    every threshold above is taken (the one with more valid syllables, if both did), unless the text has too
    many words with Unicode Vietnamese letters, which no cp1252-shaped text has.

    >>> detect("Trong kú häp nµy, Quèc héi ®· th¶o luËn vµ th«ng qua nhiÒu luËt quan träng.")
    'tcvn3'
    >>> detect("Trong kyø hoïp naøy, Quoác hoäi ñaõ thaûo luaän vaø thoâng qua nhieàu luaät quan troïng.")
    'vni'
    >>> detect("Trong kỳ họp này, Quốc hội đã thảo luận và thông qua nhiều luật quan trọng."), detect("Hµ Néi")
    (None, None)
    """
    words = WORD.findall(text[:SAMPLE])
    best: tuple[float, int, Encoding] | None = None
    for encoding in ENCODINGS:
        count, before, after, coverage = _score(words, encoding)
        passes = count >= MIN_WORDS and after >= MIN_VALID_AFTER and after - before >= MIN_GAIN
        if passes and coverage >= MIN_COVERAGE and (best is None or after > best[0]):
            best = (after, count, encoding)
    if best is None:
        return None
    unicode_words = {word for word in words if UNICODE_VIETNAMESE.search(word)}
    return None if len(unicode_words) > MAX_UNICODE * best[1] else best[2]


def repair(text: str) -> tuple[str, Encoding | None]:
    """`text` converted to Unicode when `detect` finds a legacy encoding, with its name; else unchanged and None.

    >>> repair("Hello, world")
    ('Hello, world', None)
    """
    encoding = detect(text)
    return (text, None) if encoding is None else (to_unicode(text, encoding), encoding)


def decode_bytes(data: bytes) -> tuple[str, Encoding] | None:
    """The Unicode text of the raw bytes of a TCVN3 or VNI text file, and the encoding; None for UTF-8 and
    anything else (the caller then asks its charset detector).

    >>> report = "Báo cáo tổng kết công tác năm 2023 của Uỷ ban nhân dân tỉnh"
    >>> decode_bytes(from_unicode(report, "tcvn3").encode("cp1252")), decode_bytes(report.encode())
    (('Báo cáo tổng kết công tác năm 2023 của Uỷ ban nhân dân tỉnh', 'tcvn3'), None)
    """
    if b"\x00" in data:
        return None
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")  # to_unicode reads C1 controls as the cp1252 characters of their bytes
        encoding = detect(text)
        return None if encoding is None else (to_unicode(text, encoding), encoding)
    return None

"""TCVN3 and VNI: the tables against legacy strings from public sources, round trips, and detection that
finds legacy text and leaves every other text alone."""

from __future__ import annotations

import time
import unicodedata

import pytest
from conftest import Tally

from rag.legacy import ENCODINGS, Encoding, decode_bytes, detect, from_unicode, is_syllable, repair, to_unicode

TONES = ("", "\u0301", "\u0300", "\u0309", "\u0303", "\u0323")
LETTERS = {  # the 134 non-ASCII letters of Vietnamese, built here and not taken from the module
    unicodedata.normalize("NFC", vowel + tone) for vowel in "aăâeêioôơuưy" for tone in TONES
} - set("aeiouy") | {"đ"}
LETTERS |= {letter.upper() for letter in LETTERS}

# A paragraph, then every vowel with every tone and đ, in lower case and in capitals.
PARAGRAPH = (
    "Quốc hội nước Cộng hoà xã hội chủ nghĩa Việt Nam họp kỳ thứ nhất tại Hà Nội. Đại biểu đến từ khắp mọi "
    "miền: người Đà Nẵng, Huế, Sóc Trăng, Bắc Giang và Cà Mau; họ thảo luận về luật đất đai, thuế, giáo dục, "
    "y tế, khoa học, môi trường và những việc khẩn cấp của đất nước. Ủy ban Thường vụ trình bày báo cáo; ông "
    "Nguyễn Văn Ất và bà Ưng Thị Ỷ phát biểu ý kiến, đề nghị sửa đổi một số điều khoản cho phù hợp.\n"
    "a á à ả ã ạ ă ắ ằ ẳ ẵ ặ â ấ ầ ẩ ẫ ậ e é è ẻ ẽ ẹ ê ế ề ể ễ ệ i í ì ỉ ĩ ị o ó ò ỏ õ ọ "
    "ô ố ồ ổ ỗ ộ ơ ớ ờ ở ỡ ợ u ú ù ủ ũ ụ ư ứ ừ ử ữ ự y ý ỳ ỷ ỹ ỵ đ\n"
    "A Á À Ả Ã Ạ Ă Ắ Ằ Ẳ Ẵ Ặ Â Ấ Ầ Ẩ Ẫ Ậ E É È Ẻ Ẽ Ẹ Ê Ế Ề Ể Ễ Ệ I Í Ì Ỉ Ĩ Ị O Ó Ò Ỏ Õ Ọ "
    "Ô Ố Ồ Ổ Ỗ Ộ Ơ Ớ Ờ Ở Ỡ Ợ U Ú Ù Ủ Ũ Ụ Ư Ứ Ừ Ử Ữ Ự Y Ý Ỳ Ỷ Ỹ Ỵ Đ"
)
ENGLISH = (
    "The committee met on Tuesday to review the annual budget. Members discussed the cost of new equipment, "
    "the schedule for repairs and a proposal to extend the library's opening hours. The café on the corner "
    "was mentioned twice; a résumé of the discussion will be circulated before the next meeting."
)
FRENCH = (
    "Où est la gare ? Je ne sais pas où aller. À côté de l'hôtel, le café où nous étions était plein ; "
    "l'été dernier, nous avons visité Noël et Chloé à Besançon. « Déjà ? » a-t-il répondu, très étonné, "
    "en goûtant une crème brûlée. Ça coûte cher, mais c'est la première fois que je mange à la française."
)
GERMAN = (
    "Über die Brücke gingen fünf müde Männer. Die Straße ist groß und schön; im Frühling blühen die Bäume "
    "vor dem Rathaus. Köln, Düsseldorf und München liegen weit auseinander, aber mit dem Zug ist man schnell "
    "dort. Die Mädchen aßen Äpfel, während die Jungen Fußball spielten und über das Öl im Hafen sprachen."
)
SPANISH = (
    "Aún no sé qué decir. ¿Qué más quieres? Sí, él está aquí y tú también. El niño comió piña en el baúl del "
    "año pasado; la canción de Raúl se oyó en toda la región. Mañana iremos a la montaña con María y José, "
    "según el pronóstico del tiempo, que dice que habrá sol después de la lluvia."
)
# Vietnamese spelt with Latin-1 letters only: read as TCVN3 it turns into other well-formed syllables
# ("Tụi cú cụ bộ"), so only the comparison with before converting tells it is already Unicode.
LATIN1_VIETNAMESE = (
    "Tôi có cô bé. Cô bé có cá, có mèo và có chó. Chú tôi không nói, chú khóc. Tháng sáu, sáng nay, "
    "lá tím trên cây cao. Bé Lan hát, bé Lan múa. Dì tôi bán áo, bán nón, bán giày. Tôi là sinh viên."
)
CODE = (
    "def score(words: list[str]) -> float:\n    return sum(len(w) for w in words) / max(len(words), 1)  # µs\n"
    "x = {'a': 1, 'b': [2, 3]}; print(f'{x!r} ± 0.5 °C, 10² m, © 2024')\n"
)


def cp1258(text: str) -> bytes:
    """Windows-1258 the way Windows writes it: base letters precomposed, tones as combining marks."""
    out = []
    for char in unicodedata.normalize("NFC", text):
        parts = unicodedata.normalize("NFD", char)
        tones = "".join(c for c in parts if c in TONES)
        out.append(unicodedata.normalize("NFC", "".join(c for c in parts if c not in TONES)) + tones)
    return "".join(out).encode("cp1258")


def test_the_paragraph_holds_every_letter_and_the_tables_every_letter() -> None:
    assert len(LETTERS) == 134
    assert {c for c in PARAGRAPH if not c.isascii() and c.isalpha()} == LETTERS
    lower = sorted(letter for letter in LETTERS if letter.islower())
    assert len({from_unicode(letter, "tcvn3") for letter in lower}) == 67  # one code a letter
    assert len({from_unicode(letter, "vni") for letter in LETTERS}) == 134


# Legacy forms as they appear in public sources, not derived from the module: TCVN3 bytes per Unikey's
# table, seen in stored real documents ("Hµ Néi", "TrÇn Quèc To¶n", "§¶ng Céng S¶n", "Vâ Nguyªn Gi¸p",
# "ChiÕn dÞch Hå ChÝ Minh") and converters' tests ("TiÕng ViÖt", "®\xadîc" = được, "Tr¹m biÕn ¸p", "Cao ®é").
TCVN3 = [
    ("Hà Nội", b"H\xb5 N\xe9i"),
    ("Quốc hội", b"Qu\xe8c h\xe9i"),
    ("Việt Nam", b"Vi\xd6t Nam"),
    ("Tiếng Việt", b"Ti\xd5ng Vi\xd6t"),
    ("được", b"\xae\xad\xeec"),
    ("Trần Quốc Toản", b"Tr\xc7n Qu\xe8c To\xb6n"),
    ("Đảng Cộng Sản", b"\xa7\xb6ng C\xe9ng S\xb6n"),
    ("Võ Nguyên Giáp", b"V\xe2 Nguy\xaan Gi\xb8p"),
    ("Chiến dịch Hồ Chí Minh", b"Chi\xd5n d\xdech H\xe5 Ch\xdd Minh"),
    ("Trạm biến áp", b"Tr\xb9m bi\xd5n \xb8p"),
    ("Cao độ", b"Cao \xae\xe9"),
    ("THUYẾT MINH", b"THUY\xd5T MINH"),  # .VnTimeH: capitals drawn from the lowercase codes
    ("Nghị quyết của QUỐC HỘI", b"Ngh\xde quy\xd5t c\xf1a QU\xe8C H\xe9I"),
    ("Độc lập – ĐỘC LẬP", b"\xa7\xe9c l\xcbp \x96 \xa7\xe9C L\xcbP"),
    ("CỘNG HOÀ XÃ HỘI CHỦ NGHĨA VIỆT NAM", b"C\xe9NG HO\xb5 X\xb7 H\xe9I CH\xf1 NGH\xdcA VI\xd6T NAM"),
]
# VNI forms from converters' tests and READMEs (Unikey's and VBKey's tables agree on every one).
VNI = [
    ("Hà Nội", "Haø Noäi"),
    ("Quốc hội", "Quoác hoäi"),
    ("Việt Nam", "Vieät Nam"),
    ("Tiếng Việt", "Tieáng Vieät"),
    ("được", "ñöôïc"),
    ("Đồng", "Ñoàng"),
    ("Đà Nẵng", "Ñaø Naüng"),
    ("thuỷ", "thuyû"),
    ("Xin chào các bạn", "Xin chaøo caùc baïn"),
    ("VIỆT NAM", "VIEÄT NAM"),
    ("ĐẤT TRƯỜNG MẦM NON", "ÑAÁT TRÖÔØNG MAÀM NON"),
    ("P. THỚI BÌNH", "P. THÔÙI BÌNH"),
    ("HỖN HỢP", "HOÃN HÔÏP"),
    ("ĐẤT DU LỊCH", "ÑAÁT DU LÒCH"),
    ("MẠC ĐĨNH CHI", "MAÏC ÑÓNH CHI"),
    ("ỐNG CẤP NƯỚC", "OÁNG CAÁP NÖÔÙC"),
]


@pytest.mark.parametrize(("unicode", "legacy"), TCVN3)
def test_tcvn3_matches_hand_checked_strings(unicode: str, legacy: bytes) -> None:
    assert from_unicode(unicode, "tcvn3").encode("cp1252") == legacy
    assert to_unicode(legacy.decode("cp1252"), "tcvn3") == unicode


@pytest.mark.parametrize(("unicode", "legacy"), VNI)
def test_vni_matches_hand_checked_strings(unicode: str, legacy: str) -> None:
    assert from_unicode(unicode, "vni") == legacy
    assert to_unicode(legacy, "vni") == unicode


def test_vni_round_trips_every_letter_in_both_cases() -> None:
    legacy = from_unicode(PARAGRAPH, "vni")
    assert legacy.encode("cp1252").decode("cp1252") == legacy  # all of it is bytes
    assert to_unicode(legacy, "vni") == PARAGRAPH
    assert to_unicode(from_unicode(unicodedata.normalize("NFD", PARAGRAPH), "vni"), "vni") == PARAGRAPH


def test_tcvn3_round_trips_all_but_the_case_of_toned_capitals_in_lower_case_words() -> None:
    legacy = from_unicode(PARAGRAPH, "tcvn3")
    back = to_unicode(legacy, "tcvn3")
    assert back.casefold() == PARAGRAPH.casefold()
    assert back.splitlines()[1:] == PARAGRAPH.splitlines()[1:]  # the lower-case line and the line of capitals
    # TCVN3 has capitals for Ă Â Ê Ô Ơ Ư Đ only; a toned capital starting a word is written with the
    # lowercase code, as in .VnTimeH, and comes back lower case: the text cannot say otherwise
    assert "Đại biểu" in back and "Ưng Thị" in back and "ông" in back
    assert "ủy ban Thường vụ" in back and "ất và" in back and "Thị ỷ" in back
    assert to_unicode(from_unicode(PARAGRAPH.lower(), "tcvn3"), "tcvn3") == PARAGRAPH.lower()
    assert to_unicode(from_unicode(PARAGRAPH.upper(), "tcvn3"), "tcvn3") == PARAGRAPH.upper()


def test_legacy_conversion_keeps_what_is_not_vietnamese() -> None:
    # C1 controls (text read as Latin-1) are the Windows punctuation of their bytes; the five bytes
    # cp1252 leaves undefined stay; characters that are no byte stay
    assert to_unicode("\x93Hµ Néi\x94 \x96 ViÖt Nam \x81 € 中文", "tcvn3") == "“Hà Nội” – Việt Nam \x81 € 中文"
    assert to_unicode("\x93Haø Noäi\x94 \x96 ĐÀ 2024", "vni") == "“Hà Nội” – ĐÀ 2024"
    # TCVN 5712's capitals on control codes are read; VNI marks of the other case are read; a base and a
    # mark it does not take, or a mark after a consonant, are left
    assert to_unicode("\x13 \x16 \x01 \x02", "tcvn3") == "Ỳ Ý Ú Ụ"
    assert to_unicode("Aø aØ Ôù", "vni") == "À à Ớ"
    assert to_unicode("uâ tù café", "vni") == "uâ tù café"
    with pytest.raises(ValueError, match="unknown legacy encoding"):
        to_unicode("x", "viqr")  # type: ignore[arg-type]


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_legacy_paragraphs_are_detected_as_text_and_as_bytes(encoding: Encoding) -> None:
    legacy = from_unicode(PARAGRAPH, encoding)
    expected = to_unicode(legacy, encoding)
    assert detect(legacy) == encoding
    assert repair(legacy) == (expected, encoding)
    assert decode_bytes(legacy.encode("cp1252")) == (expected, encoding)
    for text in (PARAGRAPH.lower(), PARAGRAPH.upper()):
        assert detect(from_unicode(text, encoding)) == encoding


def test_a_real_tcvn3_document_read_as_bytes() -> None:
    # the opening of a Ministry of Finance decision (November 2002), as a public corpus shows it read as
    # Latin-1; "tr\xadëng" keeps the soft hyphen that is TCVN3's ư
    shown = (
        "bé tµi chÝnh          céng hoµ x· héi chñ nghÜa ViÖt nam\n"
        "Hµ néi, ngµy 22 th¸ng 11 n¨m 2002\n"
        "quyÕt ®Þnh cña bé tr\xadëng bé tµi chÝnh\n"
        "vÒ viÖc söa ®æi møc thuÕ suÊt cña mét sè mÆt hµng trong"
    )
    assert decode_bytes(shown.encode("cp1252")) == (
        "bộ tài chính          cộng hoà xã hội chủ nghĩa Việt nam\n"
        "Hà nội, ngày 22 tháng 11 năm 2002\n"
        "quyết định của bộ trưởng bộ tài chính\n"
        "về việc sửa đổi mức thuế suất của một số mặt hàng trong",
        "tcvn3",
    )


NORMAL_TEXTS = {
    "vietnamese nfc": PARAGRAPH,
    "vietnamese nfd": unicodedata.normalize("NFD", PARAGRAPH),
    "vietnamese in latin-1 letters": LATIN1_VIETNAMESE,
    "windows-1258, decoded": unicodedata.normalize("NFC", cp1258(PARAGRAPH).decode("cp1258")),
    "english": ENGLISH,
    "french": FRENCH,
    "german": GERMAN,
    "spanish": SPANISH,
    "code": CODE,
    "short": "Xin chào",
    "short legacy": "Hµ Néi, ViÖt Nam",
    "empty": "",
}


@pytest.mark.parametrize("name", NORMAL_TEXTS)
def test_normal_text_is_never_touched(name: str) -> None:
    text = NORMAL_TEXTS[name]
    assert detect(text) is None
    assert repair(text) == (text, None)
    assert decode_bytes(text.encode("utf-8")) is None


@pytest.mark.parametrize(
    "data",
    [
        cp1258(PARAGRAPH),
        FRENCH.encode("cp1252"),
        GERMAN.encode("cp1252"),
        SPANISH.encode("cp1252"),
        from_unicode("Hà Nội, Việt Nam", "tcvn3").encode("cp1252"),  # too short to tell
        PARAGRAPH.encode("utf-16"),
    ],
    ids=["windows-1258", "french", "german", "spanish", "short tcvn3", "utf-16"],
)
def test_other_non_utf8_bytes_are_left_to_the_charset_detector(data: bytes) -> None:
    assert decode_bytes(data) is None


def test_text_mixing_unicode_and_legacy_is_left_alone() -> None:
    mixed = PARAGRAPH + "\n" + from_unicode(PARAGRAPH.splitlines()[0], "tcvn3")
    assert detect(mixed) is None


def test_an_english_text_quoting_a_few_tcvn3_words_is_left_alone() -> None:
    quoting = (ENGLISH + " ") * 5 + (
        'Old files show the damage: "Hµ Néi", "Quèc héi", "ViÖt Nam", "TiÕng ViÖt", "Tr¹m biÕn ¸p", '
        '"Cao ®é" and "§¶ng Céng S¶n" are what TCVN3 looks like when read as Windows-1252.'
    )
    assert detect(quoting) is None


def test_text_whose_changed_words_mostly_do_not_become_vietnamese_is_left_alone() -> None:
    # a TCVN3 sentence before a German paragraph: converting would mangle the German (ü -> ỹ)
    mixed = from_unicode(PARAGRAPH.split(";")[0], "tcvn3") + "\n" + GERMAN
    assert detect(mixed) is None


@pytest.mark.parametrize(
    ("word", "valid"),
    [
        *((w, True) for w in "người Quốc NGHĨA khuỷu giữ gìn hoạch quyết nghiêng khuya ước ăn kế ghế".split()),
        *((w, False) for w in "Néi Noäi cỏc kan ghá ngiêng ă hôtel été vÒ Đ qú ếc".split()),
    ],
)
def test_syllable_validator(word: str, valid: bool) -> None:
    assert is_syllable(word) is valid


def test_five_megabytes_are_converted_whole(tally: Tally) -> None:
    """A large file is converted in one piece; how long it took is a figure printed, never asserted."""
    text = (PARAGRAPH + "\n") * (5_000_000 // len(PARAGRAPH))
    for encoding in ENCODINGS:
        data = from_unicode(text, encoding).encode("cp1252")
        start = time.perf_counter()
        result = decode_bytes(data)
        elapsed = time.perf_counter() - start
        assert result is not None and result[1] == encoding
        assert result[0] == to_unicode(data.decode("cp1252"), encoding) and len(result[0]) > 4_000_000
        tally.figure(f"{encoding}: {len(data) / 1e6:.1f} MB decoded in", f"{elapsed:.2f} s")

"""What a question asks for, and where in a sentence the answer to it stands.

`kind` reads the question word: a person (ai, người nào, "Chủ tịch … nào"), a number (bao nhiêu,
mấy), a date or time (ngày nào, khi nào, năm nào), a place (ở đâu, tỉnh nào), or something
else. `terms` are the question's content syllables (question words left out), which `coverage`
weighs by their inverse document frequency: how much of what the question is about a sentence
holds. `expressions` finds the numbers, dates and names of a sentence with their word positions;
`span` cuts the short answer out of a sentence: the sentence as it stands when it is short, else
the window of `MAX_WORDS` words that holds the most of the question among those around the
likeliest answer, the expression of the kind asked with the most of the question about it (chosen
on XQuAD-vi near-miss questions of half of the articles: docs/evaluation.md).

Rules on the words of Vietnamese questions in general, not on any question of a test set. This
module reads strings; it does not retrieve or call a model.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from rag.text import contains, fold
from rag.verify import HONORIFICS

Kind = Literal["person", "number", "date", "place", "other"]
KINDS: tuple[Kind, ...] = ("person", "number", "date", "place", "other")
MAX_WORDS = 30  # a longer sentence is cut to a window of this many words: a short answer, not a paragraph
WHOLE = 40  # a sentence of at most this many (folded) words is the answer as it stands
ROLES = (
    "chủ tịch|phó chủ tịch|tổng thư ký|bộ trưởng|thứ trưởng|thủ tướng|phó thủ tướng|chủ nhiệm|phó chủ nhiệm|"
    "trưởng ban|phó trưởng ban|vụ trưởng|giám đốc|đại biểu|đại tướng|lãnh đạo|nhà văn|nhà khoa học|tác giả|"
    "người|vị|ông|bà|đồng chí|vua|hoàng đế|tổng thống|nhà"
)
ASKS: dict[Kind, re.Pattern[str]] = {  # matched on `fold`ed questions
    "date": re.compile(
        r"\b(?:ngày nào|ngày bao nhiêu|khi nào|bao giờ|lúc nào|năm nào|năm bao nhiêu|tháng nào|thời gian nào|"
        r"thời điểm nào|thế kỷ nào|thập kỷ nào|mấy giờ|giờ nào|ngày tháng năm nào|năm mấy)\b"
    ),
    "number": re.compile(r"\b(?:bao nhiêu|mấy|số lượng|tỷ lệ|bao lâu|bao xa|bao cao|bao lớn)\b"),
    "person": re.compile(rf"\b(?:ai|(?:{ROLES})(?: \w+){{0,3}} nào)\b"),
    "place": re.compile(
        r"\b(?:ở đâu|tại đâu|đâu|nơi nào|địa điểm nào|tỉnh nào|thành phố nào|nước nào|quốc gia nào|vùng nào|"
        r"khu vực nào|thủ đô nào|châu lục nào|địa phương nào)\b"
    ),
}
QUESTION_WORDS = frozenset(
    "ai gì nào bao nhiêu mấy đâu khi sao thế nào vì tại không chăng hả hay là được có những các một".split()
)
NUMBER_WORDS = "một|hai|ba|bốn|năm|sáu|bảy|tám|chín|mười|mươi|trăm|nghìn|ngàn|triệu|tỷ|chục|nửa"
WORD = re.compile(r"\w+(?:[.,/:%-]\w+)*%?")
NUMBER = re.compile(rf"^(?:\d+(?:[.,/:]\d+)*%?|{NUMBER_WORDS})$", re.IGNORECASE)
DATE = re.compile(r"^\d{1,2}[/.-]\d{1,2}(?:[/.-]\d{2,4})?$|^\d{3,4}$")
DATE_WORDS = frozenset(["ngày", "tháng", "năm", "quý", "thế", "kỷ", "sáng", "chiều", "tối", "giờ"])
PLACE_BEFORE = frozenset(["tại", "ở", "tới", "đến", "từ", "thăm", "trong"])
NOT_UNITS = frozenset(
    "tại ở trong của và cho với từ vào khi thì là được đã sẽ đang so theo như nhưng mà hay hoặc".split()
)
# The commonest Vietnamese family names: a capitalised run that starts with one is a person's name
SURNAMES = frozenset(
    "nguyễn trần lê phạm hoàng huỳnh phan vũ võ đặng bùi đỗ hồ ngô dương lý đinh vương tòng trương lâm "
    "mai đoàn cao lưu tạ thái hà la lương trịnh kiều quách chu tô triệu từ đàm".split()
)
# The names of bodies and titles, not of people ("Văn phòng Quốc hội", "Ủy viên Bộ Chính trị"), folded; a
# capitalised word that opens one of them before a lower-case word ("Văn phòng", "Chủ nhiệm") is no name at all
BODIES = frozenset(
    (
        "quốc hội, ủy ban, bộ, chính trị, đảng, nhà nước, chính phủ, văn phòng, thường vụ, cục, viện, trường, "
        "công ty, tỉnh, thành phố, đại biểu, huyện, xã, hội đồng, mặt trận, tổ chức, liên hiệp, hiệp hội, sở, "
        "tòa án, kiểm sát, quân đội, ngân hàng, tập đoàn, nghị định, quyết định, luật, hiến pháp, chương trình, "
        "đề án, kế hoạch, hội nghị, kỳ họp, phiên họp, ban, vụ, chủ nhiệm, chủ tịch, thư ký, ủy viên, bộ trưởng, "
        "phó, tổng, trưởng, giám đốc, đoàn"
    ).split(", ")
)


def _names_a_body(folded: str) -> bool:
    """Whether folded words hold the name of a body or a title ("ngân" alone, in "Kim Ngân", does not).

    >>> _names_a_body("đoàn đại biểu"), _names_a_body("nguyễn thị kim ngân"), _names_a_body("bộ chính")
    (True, False, True)
    """
    words = folded.split()
    return any(" ".join(words[i : i + size]) in BODIES for size in (1, 2) for i in range(len(words) - size + 1))


@dataclass(frozen=True)
class Expression:
    """A number, date or name in a sentence: its kind, its text, and the positions of its first and last word."""

    kind: Kind
    text: str
    first: int
    last: int


@dataclass(frozen=True)
class Words:
    """A sentence's words with their character spans, for cutting it by word while keeping its own text."""

    text: str
    spans: tuple[tuple[int, int], ...]

    @classmethod
    def of(cls, text: str) -> Words:
        return cls(text, tuple(m.span() for m in WORD.finditer(text)))

    def __len__(self) -> int:
        return len(self.spans)

    def word(self, i: int) -> str:
        a, b = self.spans[i]
        return self.text[a:b]

    def cut(self, first: int, last: int) -> str:
        """The sentence's own text from word `first` to word `last`, both included."""
        return self.text[self.spans[first][0] : self.spans[last][1]]


ADDRESS = re.compile(r"\S*(?:@|://|www\.)\S*")


def kind(question: str) -> Kind:
    """What the question asks for.

    >>> kind("Hội nghị diễn ra vào ngày nào?"), kind("Có bao nhiêu công văn đến?"), kind("Ai chủ trì hội nghị?")
    ('date', 'number', 'person')
    >>> kind("Chủ tịch Quốc hội nào đã dự?"), kind("Hội nghị tổ chức ở đâu?"), kind("Hội nghị bàn về gì?")
    ('person', 'place', 'other')
    """
    folded = fold(ADDRESS.sub(" ", question))  # "ai@…" in an e-mail address asks for no one
    names: tuple[Kind, ...] = ("date", "number", "person", "place")
    for name in names:
        if ASKS[name].search(folded):
            return name
    return "other"


def terms(question: str) -> list[str]:
    """The question's content syllables (folded, question words out), each once.

    >>> terms("Văn phòng Quốc hội đã tiếp nhận bao nhiêu công văn?")
    ['văn', 'phòng', 'quốc', 'hội', 'đã', 'tiếp', 'nhận', 'công']
    """
    return [t for t in dict.fromkeys(fold(question).split()) if t not in QUESTION_WORDS]


def coverage(question_terms: Sequence[str], sentence: str, idf: Callable[[str], float]) -> float:
    """Share of the question's terms, weighted by idf, that `sentence` holds (0..1).

    >>> coverage(["công", "văn", "đến"], "Đã nhận 30.087 công văn.", lambda t: 1.0)
    0.6666666666666666
    """
    total = sum(idf(t) for t in question_terms)
    if not total:
        return 0.0
    held = set(fold(sentence).split())
    return sum(idf(t) for t in question_terms if t in held) / total


def expressions(words: Words) -> list[Expression]:
    """The numbers (with their unit), dates and names of a sentence, in order.

    >>> words = Words.of("Ngày 5/1/2021, ông Bùi Văn Cường nhận 30.087 công văn tại Hà Nội.")
    >>> [(e.kind, e.text) for e in expressions(words)]
    [('date', 'Ngày 5/1/2021'), ('person', 'Bùi Văn Cường'), ('number', '30.087 công văn'), ('place', 'Hà Nội')]
    """
    found: list[Expression] = []
    i, n = 0, len(words)
    while i < n:
        w = words.word(i)
        low = w.casefold()
        if low in DATE_WORDS and i + 1 < n and (DATE.match(words.word(i + 1)) or NUMBER.match(words.word(i + 1))):
            j = i + 1
            while j + 1 < n and (words.word(j + 1).casefold() in DATE_WORDS or DATE.match(words.word(j + 1))):
                j += 1
            found.append(Expression("date", words.cut(i, j), i, j))
            i = j + 1
        elif DATE.match(w) and ("/" in w or "-" in w):
            found.append(Expression("date", w, i, i))
            i += 1
        elif NUMBER.match(w) and (w[0].isdigit() or (i + 1 < n and NUMBER.match(words.word(i + 1)) is None)):
            j = i
            while j + 1 < n and NUMBER.match(words.word(j + 1)):
                j += 1
            unit = j
            while (
                unit + 1 < n
                and unit - j < 3
                and words.word(unit + 1)[:1].islower()
                and words.word(unit + 1) not in NOT_UNITS
                and not _stops(words, unit)
            ):
                unit += 1
            found.append(Expression("number", words.cut(i, unit), i, unit))
            i = unit + 1
        elif w[:1].isupper() and i > 0 and not _sentence_start(words, i):
            j = i
            while j + 1 < n and words.word(j + 1)[:1].isupper() and not _stops(words, j):
                j += 1
            first = i
            while first <= j and words.word(first).casefold() in HONORIFICS:
                first += 1
            opens_a_body = (
                j + 1 < n and not _stops(words, j) and f"{fold(words.word(j))} {fold(words.word(j + 1))}" in BODIES
            )
            if first <= j and not (first == j and opens_a_body):  # "Văn phòng", "Chủ nhiệm": no name
                found.append(Expression(_name_kind(words, i, first, j), words.cut(first, j), first, j))
            i = j + 1
        else:
            i += 1
    return found


def _name_kind(words: Words, at: int, first: int, last: int) -> Kind:
    """A capitalised run's kind: a place after "tại", "ở"…; a person when it starts with a family name and no
    other word of it names a body or a title, or when none of its words does; else "other" (an organisation, a
    law, a title: "Đoàn Đại biểu Quốc hội", "Ủy viên Bộ Chính trị").

    >>> [_name_kind(Words.of(t), 1, 1, len(Words.of(t)) - 1) for t in ("ông Bùi Văn Cường", "các Đoàn Đại biểu",
    ...                                                                 "nhà Marie Curie", "tại Hà Nội")]
    ['person', 'other', 'person', 'place']
    """
    if at > 0 and words.word(at - 1).casefold() in PLACE_BEFORE:
        return "place"
    names = [fold(words.word(k)) for k in range(first, last + 1)]
    if last + 1 < len(words) and not _stops(words, last) and words.word(last + 1)[:1].islower():
        names.append(fold(words.word(last + 1)))  # "Đoàn Đại biểu": the body's name runs on in lower case
    if names[0] in SURNAMES and last > first and not _names_a_body(" ".join(names[1:])):
        return "person"
    return "other" if _names_a_body(" ".join(names)) else "person"


def _stops(words: Words, i: int) -> bool:
    """Whether punctuation stands between word `i` and the next one (a name or a unit does not run across it)."""
    between = words.text[words.spans[i][1] : words.spans[i + 1][0]]
    return bool(between.strip())


def _sentence_start(words: Words, i: int) -> bool:
    before = words.text[: words.spans[i][0]].rstrip()
    return not before or before[-1] in '.:;!?“"('


def positions(words: Words, question_terms: Iterable[str]) -> list[int]:
    """Word positions of the sentence that hold one of the question's terms."""
    wanted = set(question_terms)
    return [i for i in range(len(words)) if set(fold(words.word(i)).split()) & wanted]


@dataclass(frozen=True)
class Span:
    """The short answer cut from a sentence: its text, the expression of the asked kind in it (None for other
    questions), and how near that expression stands to the question's words (1: next to them)."""

    text: str
    expression: Expression | None
    nearness: float


def span(question: str, sentence: str, asked: Kind | None = None, idf: Callable[[str], float] | None = None) -> Span:
    """The short answer to `question` in `sentence`: the sentence itself when it is short (at most `WHOLE`
    words), else the `MAX_WORDS`-word window that holds the most of the question (its words weighted by `idf`)
    among those around the likeliest answer (`_likeliest`); the expression reported is the likeliest one the
    cut holds.

    >>> s = span("Văn phòng phát hành bao nhiêu công văn đi?",
    ...          "Trong tháng 8, Văn phòng đã tiếp nhận 30.087 công văn đến, phát hành 2.232 công văn đi.")
    >>> s.text, s.expression.text
    ('Trong tháng 8, Văn phòng đã tiếp nhận 30.087 công văn đến, phát hành 2.232 công văn đi.', '2.232 công văn đi')
    """
    asked = asked or kind(question)
    weigh = idf or (lambda _: 1.0)
    words = Words.of(sentence)
    if not len(words):
        return Span(sentence, None, 0.0)
    wanted = terms(question)
    near = positions(words, wanted)
    fitting: list[Expression] = []
    if asked != "other":
        folded_question = fold(question)
        fitting = [
            e
            for e in expressions(words)
            if (e.kind == asked or (asked == "place" and e.kind == "person"))
            and not contains(folded_question, fold(e.text))
        ]
    if len(fold(sentence).split()) <= WHOLE or len(words) <= MAX_WORDS:
        first, last = 0, len(words) - 1
        text = sentence.strip()
    else:
        weight = {p: max(weigh(t) for t in set(fold(words.word(p)).split()) & set(wanted)) for p in near}

        starts: Sequence[int] = range(len(words) - MAX_WORDS + 1)
        if fitting:  # the windows around the likeliest answer: the expression among the most of the question
            target = _likeliest(fitting, asked, near)
            starts = [a for a in starts if a <= target.first and target.last < a + MAX_WORDS] or starts
        first = max(starts, key=lambda a: sum(w for p, w in weight.items() if a <= p < a + MAX_WORDS))  # earliest
        last = first + MAX_WORDS - 1
        text = words.cut(first, last)
    shown = [e for e in fitting if first <= e.first and e.last <= last]
    if not shown:
        return Span(text, None, 1.0)
    best = _likeliest(shown, asked, near)
    return Span(text, best, 1 / (1 + _distance(best, near)))


def _likeliest(fitting: Sequence[Expression], asked: Kind, near: Sequence[int]) -> Expression:
    """The likeliest answer among the expressions that fit the question: of the asked kind first (a person's name
    also fits "ở đâu"), then with the most of the question's words about it."""
    return max(fitting, key=lambda e: (e.kind == asked, _affinity(e, near)))


def _affinity(e: Expression, near: Sequence[int], reach: int = 8) -> float:
    """How much of the question stands around an expression: its words within `reach`, the nearer the more (a
    word of the expression itself counts fully: "2.232 công văn đi" for "bao nhiêu công văn đi")."""
    return sum(1 / (1 + d) for p in near if (d := max(e.first - p, p - e.last, 0)) <= reach)


def _distance(e: Expression, near: Sequence[int]) -> int:
    return min((max(e.first - p, p - e.last, 0) for p in near), default=len(near) + 10)

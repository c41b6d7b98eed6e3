"""The pieces of an answer that need no model: follow-up rewriting, premise checks, refusals, and the
three forms an answer takes (generated and verified, extractive, abstained) with their citations.

Pure functions over `Passage`s and strings; `rag.pipeline` decides which one applies.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import pairwise
from pathlib import PurePath

from rag.errors import QuestionError
from rag.evidence import Passage, Sentence
from rag.prompts import render
from rag.text import contains, fold
from rag.types import Chunk, Citation, Headers, Turn
from rag.verify import CITATION, Claim, entities

EXTRACTIVE_SENTENCES = 2  # the best two evidence sentences held the gold answer far more often than one
TITLE_WORDS = 8  # a passage's title in the prompt is cut to this many words: tokens are the cost
# Words that make a question lean on the one before it ("Còn công văn đi thì sao?", "Ông ấy giữ chức gì?")
FOLLOW_UP = re.compile(
    r"^(còn|vậy|thế|và|rồi)\b"
    r"|\b(thì sao|thế nào rồi|ông ấy|bà ấy|ông ta|bà ta|anh ấy|chị ấy|họ|nó|đó|ấy|này|(nêu|kể|nói) trên)\b"
)
COUNT = re.compile(r"\b(?:bao nhiêu|mấy) (\w+)(?: (\w+))?")
NUMBER_WORDS = "một|hai|ba|bốn|năm|sáu|bảy|tám|chín|mười|mươi|trăm|nghìn|ngàn|triệu|tỷ"
CLASSIFIERS = {"đạo", "bản", "chiếc", "cái", "con"}
UNCHECKED = {  # vague things, measures written without the word, and words that are not a thing
    "người",
    "lần",
    "phần",
    "tuổi",
    "thời",
    "lâu",
    "xa",
    "nhiều",
    "so",
    "trong",
    "để",
    "về",
    "trên",
    "dưới",
    "là",
    "của",
    "khi",
    "với",
    "thì",
    "mà",
    "được",
    "có",
    "đã",
    "từ",
    "tại",
    "vào",
    "cho",
    "năm",
    "ngày",
    "tháng",
}
ORDINAL = re.compile(r"\bthứ (\d)\b")
FOLLOW_UP_WORDS = 7  # a question this short after another one is read as a follow-up too
REFUSALS = (
    "không có thông tin",
    "không đề cập",
    "không được đề cập",
    "không nêu",
    "không được nêu",
    "không có dữ liệu",
    "không thể trả lời",
    "không tìm thấy",
    "không có câu trả lời",
)


EMPTY_QUESTION = "Hãy nhập một câu hỏi về tài liệu. (The question is empty: type a question about your documents.)"


def no_answer() -> str:
    """The fixed sentence of an abstention (a package file, like the prompts)."""
    return render("refusal")


def require_question(question: str) -> None:
    """A `QuestionError` for a question with nothing to ask: whitespace, invisible characters or punctuation only.

    Every front end calls this one check (the command line before it loads the models).
    """
    if not fold(question or ""):
        raise QuestionError(EMPTY_QUESTION)


def standalone(question: str, history: Sequence[Turn]) -> tuple[str, str]:
    """(query for retrieval, the earlier question it leans on or "") for `question` after `history`.

    `history` is (role, content) pairs, oldest first. A follow-up — a question that starts with
    "còn", "vậy", …, points back ("ông ấy", "đó"), or is very short — is joined to the last
    user question, which is the rewrite that kept the gold passage for every follow-up of the
    seeds question set (README).

    >>> standalone("Còn công văn đi thì sao?", [("user", "Có bao nhiêu công văn đến?"), ("assistant", "30.087")])
    ('Có bao nhiêu công văn đến? Còn công văn đi thì sao?', 'Có bao nhiêu công văn đến?')
    >>> standalone("Văn phòng Quốc hội là cơ quan gì?", [("user", "Có bao nhiêu công văn đến?")])
    ('Văn phòng Quốc hội là cơ quan gì?', '')
    """
    previous = next((content for role, content in reversed(history) if role == "user" and content.strip()), "")
    folded = fold(question)
    if previous and (FOLLOW_UP.search(folded) or len(folded.split()) <= FOLLOW_UP_WORDS):
        return f"{previous.strip()} {question}", previous.strip()
    return question, ""


def missing_premises(question: str, chunks: Sequence[Chunk]) -> list[str]:
    """Numbers, dates and names of the question that none of the retrieved chunks (text, title, date) mentions.

    A question about "năm 2019" answered from passages about 2020 is the typical invented
    answer of a small model; when the documents never name what the question is about,
    the honest answer is that they do not answer it.
    """
    context = fold(" ".join(f"{c.title} {c.date or ''} {c.text}" for c in chunks))
    ordinals = set(ORDINAL.findall(fold(question)))  # "nhóm thứ 4" may be written "thứ tư": not a premise
    return [e for e in entities(question) if fold(e) and e not in ordinals and not contains(context, fold(e))]


def uncounted(question: str, chunks: Sequence[Chunk]) -> str | None:
    """For "bao nhiêu X" / "mấy X", the X that no retrieved chunk counts ("30.087 công văn", "hai điểm cầu").

    A count of something the documents never count cannot be answered from them; the small model
    would take the nearest number instead. Words that are not a counted thing ("phần trăm",
    "tuổi", "bao nhiêu so với …") and vague ones ("người", "lần") are not checked.

    >>> c = [Chunk("c", "d.txt", "T", None, 0, 40, "Đã tiếp nhận 30.087 công văn đến và hai đoàn khách.")]
    >>> uncounted("Có bao nhiêu công văn đến?", c), uncounted("Có mấy đoàn khách?", c)
    (None, None)
    >>> uncounted("Tổng kinh phí là bao nhiêu tỷ đồng?", c), uncounted("Có bao nhiêu người dự?", c)
    ('tỷ', None)
    """
    asked = COUNT.search(fold(question))
    if asked is None:
        return None
    thing, after = asked.groups()
    if thing in CLASSIFIERS and after:  # "bao nhiêu đạo luật" is answered by "96 luật"
        thing = after
    if thing in UNCHECKED:
        return None
    context = fold(" ".join(f"{c.title} {c.text}" for c in chunks))
    counted = re.compile(rf"\b(?:\d+|{NUMBER_WORDS}) (?:\w+ ){{0,2}}{re.escape(thing)}\b")
    return None if counted.search(context) else thing


def is_refusal(reply: str) -> bool:
    """Whether the model says the passages do not answer (the fixed sentence, or words to that effect).

    >>> is_refusal("Tài liệu không có thông tin để trả lời câu hỏi này."), is_refusal("Có 8 văn bản [1].")
    (True, False)
    """
    folded = fold(reply)
    return contains(folded, fold(no_answer())) or any(contains(folded, fold(p)) for p in REFUSALS)


def unmark(text: str) -> str:
    """A document's own bracketed numbers (footnotes, or fake citations) in parentheses, so that in a
    prompt or an answer only our markers read as citations.

    >>> unmark("Mở cửa từ 8 giờ [9]. Xem [1, 2].")
    'Mở cửa từ 8 giờ (9). Xem (1, 2).'
    """
    return CITATION.sub(lambda m: f"({m.group(1)})", text)


def shown_parts(p: Passage, headers: Headers = "title-date") -> dict[str, str]:
    """What the model is shown of a passage: the title cut to `TITLE_WORDS` words, the date, and the sentences,
    with a document's own bracketed numbers unmarked; `headers` says which of the title and date are shown
    (a part not shown is "").

    >>> c = Chunk("c", "d.txt", "Báo cáo công tác tháng 8 năm 2023 của Văn phòng", "2023-08-31", 0, 9, "Có 8 [2].")
    >>> shown_parts(Passage(1, c, (Sentence(c, 0, 9, "Có 8 [2].", 1.0),)))
    {'title': 'Báo cáo công tác tháng 8 năm 2023…', 'date': ' (2023-08-31)', 'text': 'Có 8 (2).'}
    >>> shown_parts(Passage(1, c, (Sentence(c, 0, 9, "Có 8 [2].", 1.0),)), "none")
    {'title': '', 'date': '', 'text': 'Có 8 (2).'}
    """
    words = p.chunk.title.split()
    title = unmark(" ".join(words[:TITLE_WORDS]) + ("…" if len(words) > TITLE_WORDS else ""))
    date = f" ({p.chunk.date})" if p.chunk.date else ""
    return {
        "title": title if headers != "none" else "",
        "date": date if headers == "title-date" else "",
        "text": unmark(p.text),
    }


def passage_text(p: Passage, headers: Headers = "title-date") -> str:
    """The text of a passage as the model is shown it (without its number): what its reply is checked against."""
    return "\n".join(shown_parts(p, headers).values())


def prompt_passage(p: Passage, headers: Headers = "title-date") -> str:
    """`[n] title (date): sentences`, or `[n] sentences` when no header is shown."""
    parts = shown_parts(p, headers)
    header = f"{parts['title']}{parts['date']}".strip()
    return render("passage", n=p.n, header=f"{header}: " if header else "", text=parts["text"])


def question_prompt(
    question: str, passages: Sequence[Passage], previous: str = "", headers: Headers = "title-date"
) -> str:
    context = f"(Câu hỏi trước đó: {previous})\n" if previous else ""
    return render(
        "question",
        passages="\n".join(prompt_passage(p, headers) for p in passages),
        context=context,
        question=question,
    )


def quote(chunk: Chunk, sentences: Sequence[Sentence]) -> str:
    """The sentences as one quotation, "…" where the chunk's sentences between them were left out.

    >>> c = Chunk("c", "d.txt", "T", None, 10, 40, "Một câu. Hai câu. Ba câu.")
    >>> s = [Sentence(c, 10, 18, "Một câu.", 1), Sentence(c, 19, 27, "Hai câu.", 1), Sentence(c, 28, 35, "Ba câu.", 1)]
    >>> quote(c, s), quote(c, [s[0], s[2]])
    ('Một câu. Hai câu. Ba câu.', 'Một câu. … Ba câu.')
    """
    parts = [sentences[0].text]
    for before, s in pairwise(sentences):
        between = chunk.text[before.end - chunk.start : s.start - chunk.start]
        parts.append(s.text if not between.strip() else f"… {s.text}")
    return " ".join(parts)


def citation(n: int, chunk_passage: Passage, sentences: Sequence[Sentence] | None = None) -> Citation:
    """Passage `n` as a citation: its (chosen) sentences quoted; start/end span the first to the last."""
    chosen = tuple(sentences) if sentences else chunk_passage.sentences
    c = chunk_passage.chunk
    return Citation(
        n=n,
        doc=PurePath(c.doc_id).name,
        doc_id=c.doc_id,
        title=c.title,
        date=c.date,
        chunk_id=c.id,
        text=quote(c, chosen),
        start=chosen[0].start,
        end=chosen[-1].end,
    )


def with_markers(claim: Claim) -> str:
    """The claim with its citation markers before its final stop.

    >>> with_markers(Claim("Có 8 văn bản.", (1, 2)))
    'Có 8 văn bản [1][2].'
    """
    body = claim.text.rstrip()
    stop = body[-1] if body and body[-1] in ".!?…" else ""
    body = body[: len(body) - len(stop)].rstrip()
    return f"{body} {''.join(f'[{n}]' for n in claim.cites)}{stop}"


def generated(claims: Sequence[Claim], passages: Sequence[Passage]) -> tuple[str, tuple[Citation, ...]]:
    """The verified sentences with their markers, and one citation per cited passage (in order of number)."""
    text = " ".join(with_markers(c) for c in claims)
    cited = sorted({n for c in claims for n in c.cites})
    return text, tuple(citation(n, passages[n - 1]) for n in cited)


def extractive(passages: Sequence[Passage]) -> tuple[str, tuple[Citation, ...]]:
    """The best evidence sentences, quoted per passage (best passage first) with its number; their citations."""
    ranked = sorted(((s, p) for p in passages for s in p.sentences), key=lambda sp: -sp[0].score)
    chosen: dict[int, list[Sentence]] = {}
    for s, p in ranked[:EXTRACTIVE_SENTENCES]:
        chosen.setdefault(p.n, []).append(s)
    citations = tuple(citation(n, passages[n - 1], sorted(ss, key=lambda s: s.start)) for n, ss in chosen.items())
    return " ".join(f"“{unmark(c.text)}” [{c.n}]" for c in citations), citations

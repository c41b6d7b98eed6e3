"""Check a model's reply against the passages it was given, sentence by sentence.

The small local models do not always obey the prompt, so nothing they write is shown as an
answer until it passes these checks:
- a citation `[n]` must name one of the passages (`[7]` of 3 passages is dropped);
- each sentence must be supported by a passage it cites: every word it adds to the question
  occurs in that passage (`SUPPORT`: looser settings let the default model's wrong
  paraphrases through, measured in the README), and it must add something (not restate
  the question, not ask one);
- every number, date and proper name in the sentence must occur in a cited passage,
  after `fold` (so "30.087" matches "30087", "hoà" matches "hòa").
A sentence whose citations fail is re-attached to the passage that does support it, if any.
If any sentence is supported by no passage, or nothing is left that says more than the
question, the reply is rejected and the caller falls back to an extractive answer.

This module does not call a model, and does not decide about abstaining on weak evidence.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.chunking import split_sentences
from rag.text import contains, fold, normalize

SUPPORT = 1.0  # share of a sentence's new words (not in the question) that its passage must hold
MIN_NEW_WORDS = 2  # a sentence with no number or name must add at least this many words to the question
INTERROGATIVE = re.compile(r"\b(bao nhiêu|mấy|là gì|là ai|ở đâu|khi nào|thế nào|ra sao|vì sao|tại sao)\b")
CITATION = re.compile(r"\[\s*(\d+(?:\s*[,;–-]\s*\d+)*)\s*\]")
NUMBER = re.compile(r"(?<!\w)\d+(?:[.,/:-]\d+)*(?!\w)")  # "QH14" is a code, not the number 14
# Names are runs of capitalised words (see `entities`)
HONORIFICS = frozenset(["ông", "bà", "anh", "chị", "cô", "chú"])  # "Ông Trần Thanh Mẫn": the name is the rest
WORD = re.compile(r"[^\W\d_]\w*")
LABEL = re.compile(r"^\s*(?:câu trả lời|trả lời|đáp|answer)\s*:\s*", re.IGNORECASE)


@dataclass(frozen=True)
class Claim:
    """One sentence of a reply, its text without citation markers, and the passages it cites after checking."""

    text: str
    cites: tuple[int, ...]


@dataclass(frozen=True)
class Verdict:
    claims: tuple[Claim, ...]  # empty when rejected
    reason: str  # why it was rejected, or what was repaired ("" when accepted as written)
    reattached: int = 0
    dropped: int = 0

    @property
    def ok(self) -> bool:
        return bool(self.claims)


def cited_numbers(marker: str) -> list[int]:
    """The passage numbers inside one `[...]` marker (a number of ten digits or more names no passage: left out).

    >>> cited_numbers("1, 3"), cited_numbers("2-4"), cited_numbers("²; 99999999999")
    ([1, 3], [2, 3, 4], [])
    """
    numbers: list[int] = []
    for part in re.split(r"\s*[,;]\s*", marker.strip()):
        if m := re.fullmatch(r"0*(\d{1,9})\s*[–-]\s*0*(\d{1,9})", part):
            low, high = int(m.group(1)), int(m.group(2))
            numbers.extend(range(low, min(high, low + 20) + 1))
        elif m := re.fullmatch(r"0*(\d{1,9})", part):
            numbers.append(int(m.group(1)))
    return numbers


def unlabel(reply: str) -> str:
    """The reply without a leading "Trả lời:" (the small models copy the prompt's worked example).

    >>> unlabel("Trả lời: Có 8 văn bản [1].")
    'Có 8 văn bản [1].'
    """
    return LABEL.sub("", reply, count=1)


def split_claims(reply: str) -> list[tuple[str, list[int]]]:
    """The reply's sentences without markers, each with the numbers it cites (a marker belongs to the
    sentence it ends or follows: "… 8 văn bản [1]." and "… 8 văn bản. [1]" both cite [1] for that sentence)."""
    reply = unlabel(normalize(reply, keep_lines=True))
    # move a marker that follows the full stop in front of it, so it stays with its sentence
    reply = re.sub(r"([.!?…])\s*((?:\[[^\]]*\]\s*)+)", lambda m: " " + m.group(2).strip() + m.group(1) + " ", reply)
    claims = []
    for a, b in split_sentences(reply):
        sentence, cites = reply[a:b], []
        while markers := list(CITATION.finditer(sentence)):  # again, for a marker inside one: "[9[1]]" leaves "[9 ]"
            cites += [n for m in markers for n in cited_numbers(m.group(1))]
            sentence = CITATION.sub(" ", sentence)
        text = " ".join(sentence.split())
        text = re.sub(r"\s+([.,;:!?…])", r"\1", text)
        if fold(text):
            claims.append((text, cites))
    return claims


def entities(sentence: str) -> list[str]:
    """Numbers, dates and proper names in a sentence (a sentence's first word counts only inside a longer name).

    A name is a run of capitalised words ("Đỗ Bá Tỵ", "Hà Nội"; of "Quốc hội" only "Quốc"); a leading
    honorific ("Ông Trần Thanh Mẫn") is not part of it.

    >>> entities("Ông Bùi Văn Cường chủ trì cuộc họp ngày 7/9 với 30.087 văn bản.")
    ['7/9', '30.087', 'Bùi Văn Cường']
    >>> entities("Hội nghị có Đại tướng Đỗ Bá Tỵ tại Hà Nội.")
    ['Đại', 'Đỗ Bá Tỵ', 'Hà Nội']
    """
    found = NUMBER.findall(sentence)
    runs: list[tuple[bool, list[str]]] = []  # (starts a sentence, its capitalised words)
    last_end = None
    for m in WORD.finditer(sentence):
        word, before = m.group(), sentence[: m.start()].rstrip()
        if not word[0].isupper():
            last_end = None
            continue
        if runs and last_end is not None and not sentence[last_end : m.start()].strip():
            runs[-1][1].append(word)  # only spaces since the previous capitalised word: the same name
        else:
            runs.append((not before or before[-1] in '.:;!?“"(', [word]))
        last_end = m.end()
    for initial, words in runs:
        words = words[1:] if initial else words  # a sentence's capitalised first word alone is not a name
        while words and words[0].casefold() in HONORIFICS:
            words = words[1:]
        if words:
            found.append(" ".join(words))
    return found


def asks(claim: str) -> bool:
    """Whether a sentence is a question (small models often restate the question instead of answering it).

    >>> asks("Có bao nhiêu Văn phòng Đoàn được chuyển giao."), asks("Có 51 Văn phòng Đoàn được chuyển giao.")
    (True, False)
    """
    return claim.rstrip().endswith("?") or bool(INTERROGATIVE.search(fold(claim)))


def supports(claim: str, passage: str, question: str) -> bool:
    """Whether `passage` backs `claim`: its entities occur there, and (`SUPPORT`) every word it adds to the question."""
    if asks(claim):
        return False
    folded_passage = fold(passage)
    if not all(contains(folded_passage, fold(e)) for e in entities(claim) if fold(e)):
        return False
    asked = set(fold(question).split())
    new = [w for w in fold(claim).split() if w not in asked]
    if not new or (len(new) < MIN_NEW_WORDS and not any(w.isdigit() for w in new)):
        return False  # says (next to) nothing the question did not
    held = set(folded_passage.split())
    return sum(w in held for w in new) / len(new) >= SUPPORT


def check(reply: str, passages: Sequence[str], question: str) -> Verdict:
    """Verify `reply` against the numbered `passages` (passage n is `passages[n - 1]`)."""
    claims = split_claims(reply)
    if not claims:
        return Verdict((), "the reply holds no sentence")
    kept: list[Claim] = []
    reattached = dropped = 0
    for text, cites in claims:
        valid = [n for n in dict.fromkeys(cites) if 1 <= n <= len(passages)]
        dropped += len(set(cites)) - len(valid)
        good = [n for n in valid if supports(text, passages[n - 1], question)]
        if not good:
            backing = [n for n in range(1, len(passages) + 1) if supports(text, passages[n - 1], question)]
            if not backing:
                return Verdict((), f"no passage supports the sentence {text!r}")
            good = backing[:1]
            reattached += 1
        dropped += len(valid) - len([n for n in valid if n in good])
        kept.append(Claim(text, tuple(good)))
    repairs = []
    if reattached:
        repairs.append(f"{reattached} sentence(s) re-attached to the passage that supports them")
    if dropped:
        repairs.append(f"{dropped} citation(s) dropped")
    return Verdict(tuple(kept), "; ".join(repairs), reattached, dropped)

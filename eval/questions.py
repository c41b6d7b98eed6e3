"""Question sets: the seeds set's JSONL (eval/README.md) and XQuAD-vi's, read into `Question`s, and the near-miss
abstention sets built from them (questions whose answer was taken out of the corpus, asked over what is left).

This module reads and builds sets; it does not answer or score.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ValidationError

from rag.errors import ConfigError
from rag.payloads import TurnIn
from rag.text import contains, fold


class Question(BaseModel):
    """One line of a question file (eval/README.md)."""

    id: str
    question: str
    history: list[TurnIn] = []
    answers: list[str] = []
    answers_all: list[str] = []
    sources: list[str] = []
    answerable: bool = True
    type: str = "fact"


def read_questions(path: Path) -> list[Question]:
    questions = []
    for number, line in enumerate(path.read_text(encoding="utf-8").split("\n"), 1):
        if line.strip():
            try:
                questions.append(Question.model_validate_json(line))
            except ValidationError as exc:
                raise ConfigError(f"{path}:{number} is not a question object: {exc.errors()[0]['msg']}") from None
    return questions


def read_xquad(folder: Path) -> list[Question]:
    """XQuAD-vi's questions (`questions.jsonl` of `../shared/data/xquad_vi`) as question objects.

    The gold document is the question's paragraph file (`source_context`), the gold answer its one answer.
    """
    path = folder / "questions.jsonl"
    if not path.is_file():
        raise ConfigError(f"{path} does not exist; --xquad takes the xquad_vi folder (../shared/data/xquad_vi).")
    questions = []
    for line in path.read_text(encoding="utf-8").split("\n"):
        if line.strip():
            row = json.loads(line)
            questions.append(
                Question(
                    id=str(row["id"]),
                    question=row["question"],
                    answers=row["answers"],
                    sources=[row["source_context"]],
                    type="xquad",
                )
            )
    return questions


@dataclass(frozen=True)
class Group:
    """Questions asked over one corpus (a near-miss set needs one corpus for each set of documents left out)."""

    key: str  # names the group's index folder
    corpus: list[Path]
    questions: list[Question]


def _article(paragraph: str) -> str:
    """The article a paragraph file of XQuAD-vi belongs to ("a_02.txt" → "a")."""
    return paragraph.rsplit("_", 1)[0]


def xquad_near_miss(folder: Path, seed: int = 0) -> tuple[Group, list[Question]]:
    """The near-miss abstention set of XQuAD-vi: one paragraph of each article held out (seeded), the others
    indexed; questions of indexed paragraphs are answerable, questions of held-out paragraphs whose gold answer
    occurs in no indexed paragraph are not (those whose answer stands in another paragraph are left out). The
    article's other paragraphs stay, so the retrieved passages are about the question's topic: a near miss.
    Returns the group (corpus: the kept paragraph files) and every question of it (for retrieval baselines)."""
    every = read_xquad(folder)
    files = sorted((folder / "corpus_contexts").glob("*.txt"))
    articles: dict[str, list[Path]] = {}
    for path in files:
        articles.setdefault(_article(path.name), []).append(path)
    rng = random.Random(seed)
    held = {rng.choice(sorted(paragraphs)).name for _, paragraphs in sorted(articles.items())}
    kept = [p for p in files if p.name not in held]
    indexed = " \n ".join(fold(p.read_text(encoding="utf-8")) for p in kept)
    questions = []
    for q in every:
        if q.sources[0] not in held:
            questions.append(q)
        elif not any(contains(indexed, fold(a)) for a in q.answers):
            questions.append(q.model_copy(update={"answerable": False, "type": "near_miss"}))
    return Group(f"xquad-near-miss-{seed}", kept, questions), questions


def seeds_near_miss(questions: Sequence[Question], corpus: Path) -> list[Group]:
    """The seeds counterpart: every answerable question asked with its gold document(s) left out of the corpus,
    so that the documents left, on the same subjects, do not answer it. One group per set of documents left out."""
    groups: dict[tuple[str, ...], list[Question]] = {}
    for q in questions:
        if q.answerable and q.sources:
            left_out = tuple(sorted(q.sources))
            groups.setdefault(left_out, []).append(q.model_copy(update={"answerable": False, "type": "near_miss"}))
    files = sorted(p for p in corpus.glob("*") if p.is_file())
    return [
        Group(
            "seeds-without-" + "-".join(Path(s).stem for s in left_out),
            [p for p in files if p.name not in left_out],
            asked,
        )
        for left_out, asked in sorted(groups.items())
    ]


def article_half(folder: Path, half: str) -> set[str]:
    """The ids of XQuAD-vi's questions on half of its 48 articles ("a": the first 24 by name, "b": the others), so
    that a model fitted on one half is reported on articles it never saw."""
    every = read_xquad(folder)
    articles = sorted({_article(q.sources[0]) for q in every})
    chosen = set(articles[: len(articles) // 2] if half == "a" else articles[len(articles) // 2 :])
    return {q.id for q in every if _article(q.sources[0]) in chosen}


def document_half(questions: Sequence[Question], half: str) -> set[str]:
    """The ids of the questions on half of their documents, for a fit on one half reported on the other: each
    question belongs to the first of its gold documents (by name); documents go, largest first, to the half with
    fewer questions so far ("a" takes the first). Questions with no gold document alternate between the halves."""
    by_document: dict[str, list[str]] = {}
    unsourced: list[str] = []
    for q in questions:
        if q.sources:
            by_document.setdefault(sorted(q.sources)[0], []).append(q.id)
        else:
            unsourced.append(q.id)
    halves: dict[str, list[str]] = {"a": [], "b": []}
    for _, ids in sorted(by_document.items(), key=lambda item: (-len(item[1]), item[0])):
        (halves["a"] if len(halves["a"]) <= len(halves["b"]) else halves["b"]).extend(ids)
    halves["a"] += unsourced[0::2]
    halves["b"] += unsourced[1::2]
    return set(halves[half])

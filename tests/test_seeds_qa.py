"""The seeds question set `eval/seeds_qa.jsonl`: strict schema, minimum counts, gold strings found in their sources."""

from __future__ import annotations

import json
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from rag.text import normalize

ROOT = Path(__file__).resolve().parents[1]
QA_PATH = ROOT / "eval" / "seeds_qa.jsonl"
SEEDS = ROOT / "seeds"
FIELDS = {"id", "question", "history", "answers", "answers_all", "sources", "answerable", "type"}
MINIMUM = {"fact": 50, "paraphrase": 20, "multi": 12, "cross_doc": 6, "followup": 12, "unanswerable": 22}
MINIMUM_TOTAL = 120


def fold(text: str) -> str:
    """Normalised, case-folded, every run of whitespace (line breaks included) one space."""
    return " ".join(normalize(text).casefold().split())


@cache
def questions() -> list[dict[str, Any]]:
    return [json.loads(line) for line in QA_PATH.read_text(encoding="utf-8").splitlines()]


@cache
def document(name: str) -> str:
    return fold((SEEDS / name).read_text(encoding="utf-8"))


def is_str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) and item.strip() for item in value)


def schema_errors(q: dict[str, Any]) -> list[str]:
    """Everything wrong with one question, as messages (empty when it is well formed)."""
    if set(q) != FIELDS:
        return [f"fields {sorted(set(q) ^ FIELDS)} missing or unexpected"]
    errors = []
    if not isinstance(q["id"], str) or not q["id"].strip():
        errors.append("id is not a non-empty string")
    if not isinstance(q["question"], str) or not q["question"].strip():
        errors.append("question is not a non-empty string")
    if q["type"] not in MINIMUM:
        errors.append(f"unknown type {q['type']!r}")
    if not isinstance(q["answerable"], bool):
        errors.append("answerable is not a bool")
    for field in ("answers", "answers_all", "sources"):
        if not is_str_list(q[field]):
            errors.append(f"{field} is not a list of non-empty strings")
    history = q["history"]
    if not isinstance(history, list) or not all(
        isinstance(turn, dict)
        and set(turn) == {"role", "content"}
        and turn["role"] in ("user", "assistant")
        and isinstance(turn["content"], str)
        and turn["content"].strip()
        for turn in history
    ):
        errors.append("history is not a list of {role: user|assistant, content} turns")
    if errors:
        return errors
    if q["answerable"] != (q["type"] != "unanswerable"):
        errors.append("answerable must be false exactly for type unanswerable")
    if q["answerable"]:
        if not q["answers"] and not q["answers_all"]:
            errors.append("answerable question without answers or answers_all")
        if not q["sources"]:
            errors.append("answerable question without sources")
        missing = [name for name in q["sources"] if not (SEEDS / name).is_file()]
        if missing:
            errors.append(f"sources not in seeds/: {missing}")
        if len(set(q["sources"])) != len(q["sources"]):
            errors.append("repeated source")
    elif q["answers"] or q["answers_all"] or q["sources"]:
        errors.append("unanswerable question with answers, answers_all or sources")
    if (q["type"] == "followup") != bool(history):
        errors.append("history must be non-empty exactly for type followup")
    if q["type"] == "cross_doc" and len(q["sources"]) < 2:
        errors.append("cross_doc question with fewer than 2 sources")
    return errors


def test_every_line_is_a_json_object() -> None:
    bad = []
    for number, line in enumerate(QA_PATH.read_text(encoding="utf-8").splitlines(), 1):
        try:
            if not isinstance(json.loads(line), dict):
                bad.append(f"line {number}: not an object")
        except json.JSONDecodeError as exc:
            bad.append(f"line {number}: {exc}")
    assert not bad, "\n".join(bad)


def test_schema() -> None:
    failures = [f"{q.get('id', '?')}: {error}" for q in questions() for error in schema_errors(q)]
    assert not failures, "\n".join(failures)


def test_ids_are_unique() -> None:
    repeated = [key for key, n in Counter(q["id"] for q in questions()).items() if n > 1]
    assert not repeated, f"repeated ids: {repeated}"


def test_minimum_counts() -> None:
    counts = Counter(q["type"] for q in questions())
    short = {kind: (counts[kind], least) for kind, least in MINIMUM.items() if counts[kind] < least}
    assert not short, f"too few questions (have, need): {short}"
    assert len(questions()) >= MINIMUM_TOTAL


def test_gold_strings_occur_in_their_sources() -> None:
    failures = []
    for q in questions():
        for gold in [*q["answers"], *q["answers_all"]]:
            if not any(fold(gold) in document(name) for name in q["sources"] if (SEEDS / name).is_file()):
                failures.append(f"{q['id']}: {gold!r} not in {q['sources']}")
    assert not failures, f"{len(failures)} gold strings not found:\n" + "\n".join(failures)


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Ủy  ban\nThường vụ", "ủy ban thường vụ"),
        ("Uỷ ban", "ủy ban"),
        ("Vụ Công tác phía  Nam", "vụ công tác phía nam"),
    ],
)
def test_fold(text: str, folded: str) -> None:
    assert fold(text) == folded

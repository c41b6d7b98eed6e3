"""BM25 over syllables and syllable pairs, on hand-made texts with hand-worked expectations."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from rag import lexical
from rag.lexical import BIGRAM_WEIGHT, BM25, pairs, tokenize

TEXTS = [
    "Văn phòng Quốc hội tổ chức buổi làm việc.",  # "quốc hội" as a word, in a longer text
    "Hội đồng quốc gia, văn phòng tỉnh.",  # the same syllables, never next to each other
    "Ngân sách năm 2024 là 30.087 tỷ đồng.",
]


def test_pairs_stay_inside_phrases_and_never_collide_with_syllables() -> None:
    assert pairs("Quốc hội, văn phòng\nchính phủ") == ["quốc hội", "văn phòng", "chính phủ"]
    assert pairs("một") == [] and pairs("") == []
    assert all(" " not in t for t in tokenize("Quốc hội, văn phòng 30.087"))


def test_a_passage_with_the_words_beats_one_with_the_syllables_scattered(monkeypatch: pytest.MonkeyPatch) -> None:
    scores = BM25.build(TEXTS).scores("văn phòng quốc hội")
    assert scores[0] > scores[1] > 0 and scores[2] == 0
    monkeypatch.setattr(lexical, "BIGRAM_WEIGHT", 0.0)  # syllables alone: the shorter text would win
    alone = BM25.build(TEXTS).scores("văn phòng quốc hội")
    assert alone[1] > alone[0] > 0


def test_pair_weights_are_scaled_bm25_weights() -> None:
    bm25 = BM25.build(TEXTS)
    n, df = 3, 1  # "quốc hội" occurs in the first text only
    idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
    lengths = [len(tokenize(t)) for t in TEXTS]
    norm = 1.2 * (1 - 0.75 + 0.75 * lengths[0] / (sum(lengths) / 3))
    expected = BIGRAM_WEIGHT * idf * 1 * 2.2 / (1 + norm)
    assert bm25.weights[bm25.vocabulary["quốc hội"], 0] == pytest.approx(expected, rel=1e-5)


def test_queries_are_normalised_and_numbers_match_with_or_without_separators() -> None:
    bm25 = BM25.build(TEXTS)
    assert bm25.scores("30087")[2] > 0 and bm25.scores("30.087")[2] > 0
    assert bm25.scores("QUỐC  HỘI")[0] == pytest.approx(bm25.scores("quốc hội")[0])
    assert bm25.scores("không có gì").max() == 0


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    bm25 = BM25.build(TEXTS)
    bm25.save(tmp_path)
    again = BM25.load(tmp_path)
    assert again.vocabulary == bm25.vocabulary
    assert (again.scores("văn phòng quốc hội") == bm25.scores("văn phòng quốc hội")).all()

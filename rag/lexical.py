"""BM25 over normalised Vietnamese syllables and syllable pairs.

Vietnamese writes one syllable a word, so the tokens are the text's syllables after
`rag.text.normalize`, lower-cased; numbers keep their separators ("30.087",
"161/2021") and also count without them ("30087"), so "30.087" and "30087" match.
Most Vietnamese words are two syllables ("quốc hội", "văn phòng"), so each pair of
neighbouring syllables inside a phrase (no punctuation between them) is a term too,
its weight scaled by `BIGRAM_WEIGHT`: a passage that has the question's words, not
only its syllables scattered, ranks higher. Pairs instead of a word segmenter: no
dictionary to ship or to miss new names. No stop-word list: idf discounts "của", "và".
What the pairs gain in recall is measured in docs/evaluation.md.

The index is a sparse term-by-chunk matrix of BM25 weights (Okapi BM25, k1 = 1.2,
b = 0.75; syllables and pairs share one length normalisation, the syllable count)
built in one pass; a query's scores for every chunk are one sparse product.
It is rebuilt from the chunk texts whenever the index is written (that takes seconds;
embedding is the slow part). This module does not know about files or vectors.

>>> tokenize("Nghị quyết 161/2021/QH14: 30.087 lượt")
['nghị', 'quyết', '161/2021', '1612021', 'qh14', '30.087', '30087', 'lượt']
>>> pairs("Quốc hội khóa XV, kỳ họp thứ 6")
['quốc hội', 'hội khóa', 'khóa xv', 'kỳ họp', 'họp thứ', 'thứ 6']
"""

from __future__ import annotations

import itertools
import json
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy import sparse

from rag.text import normalize

TOKEN = re.compile(r"\d+(?:[.,/]\d+)+|\w+")
PHRASE = re.compile(r"\w+(?:[^\S\n]+\w+)*")  # words separated by spaces only: no punctuation, no line break
K1, B = 1.2, 0.75
BIGRAM_WEIGHT = 0.25  # 0.15-0.35 all gave recall@1 >= 0.96 on XQuAD-vi; pairs alone would drown single words
LEXICAL_VERSION = 2  # bump when the terms or weights change: the index rebuilds its BM25 (no re-embedding)


def tokenize(text: str) -> list[str]:
    """Lower-cased syllables and numbers of `text`, which must already be normalised (chunks are; queries are
    normalised by `BM25.scores`), so building the index does not normalise every chunk a second time."""
    tokens = []
    for token in TOKEN.findall(text.casefold()):
        tokens.append(token)
        if not token.isalnum() and token[0].isdigit():
            tokens.append(re.sub(r"\D", "", token))
    return tokens


def pairs(text: str) -> list[str]:
    """Neighbouring lower-cased syllables of `text` (already normalised) within a phrase, as "a b" terms.

    A pair holds a space, so it never collides with a single-syllable term.
    """
    terms: list[str] = []
    for phrase in PHRASE.findall(text.casefold()):
        words = phrase.split()
        terms.extend(f"{a} {b}" for a, b in itertools.pairwise(words))
    return terms


class BM25:
    """Okapi BM25 weights for a fixed list of texts, as a (vocabulary × texts) sparse matrix."""

    def __init__(self, vocabulary: dict[str, int], weights: sparse.csr_matrix) -> None:
        self.vocabulary = vocabulary
        self.weights = weights  # rows: terms, columns: texts

    @classmethod
    def build(cls, texts: Sequence[str]) -> BM25:
        vocabulary: dict[str, int] = {}
        rows, cols, counts = [], [], []
        lengths = np.zeros(len(texts), dtype=np.float32)
        for col, text in enumerate(texts):
            tokens = tokenize(text)
            lengths[col] = len(tokens)
            for term, count in Counter(tokens + pairs(text)).items():
                rows.append(vocabulary.setdefault(term, len(vocabulary)))
                cols.append(col)
                counts.append(count)
        tf = sparse.csr_matrix(
            (np.asarray(counts, dtype=np.float32), (rows, cols)), shape=(len(vocabulary), len(texts))
        )
        n = max(len(texts), 1)
        df = np.diff(tf.indptr).astype(np.float32)  # texts per term (rows of a csr matrix)
        idf = np.log(1.0 + (n - df + 0.5) / (df + 0.5))
        avg = float(lengths.mean()) if len(texts) else 1.0
        norm = K1 * (1 - B + B * lengths / max(avg, 1e-9))
        coo = tf.tocoo()
        values = idf[coo.row] * coo.data * (K1 + 1) / (coo.data + norm[coo.col])
        is_pair = np.array([" " in term for term in vocabulary], dtype=bool)  # vocabulary order is row order
        values *= np.where(is_pair[coo.row], BIGRAM_WEIGHT, 1.0)
        weights = sparse.csr_matrix((values.astype(np.float32), (coo.row, coo.col)), shape=tf.shape)
        return cls(vocabulary, weights)

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every text for `query` (0 where no query term occurs)."""
        query = normalize(query)
        rows = [self.vocabulary[t] for t in tokenize(query) + pairs(query) if t in self.vocabulary]
        if not rows:
            return np.zeros(self.weights.shape[1], dtype=np.float32)
        return np.asarray(self.weights[rows].sum(axis=0), dtype=np.float32).ravel()

    def idf(self, term: str) -> float:
        """Inverse document frequency of a (lower-cased) term over the indexed texts; unseen terms get the most."""
        n = self.weights.shape[1]
        row = self.vocabulary.get(term)
        df = 0 if row is None else int(self.weights.indptr[row + 1] - self.weights.indptr[row])
        return float(np.log(1.0 + (n - df + 0.5) / (df + 0.5)))

    def save(self, folder: Path) -> None:
        sparse.save_npz(folder / "bm25.npz", self.weights)
        (folder / "bm25_vocabulary.json").write_text(json.dumps(self.vocabulary, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> BM25:
        vocabulary = json.loads((folder / "bm25_vocabulary.json").read_text(encoding="utf-8"))
        return cls(vocabulary, sparse.load_npz(folder / "bm25.npz").tocsr())

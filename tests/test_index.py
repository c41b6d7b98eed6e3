"""The on-disk index: round trips, atomic replacement, locking, damage, and a writer killed mid-write."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from rag import store
from rag.config import CHECKOUT
from rag.errors import IndexCorruptError, IndexMissingError, LockedError
from rag.types import Chunk, Document

SETTINGS = store.IndexSettings(embedder="fake", embedder_fingerprint="fake-1", dim=4, hnsw=False)


def tiny(n_docs: int = 2, marker: str = "") -> tuple[list[Document], list[Chunk], np.ndarray]:
    documents, chunks = [], []
    for d in range(n_docs):
        text = f"văn bản số {d} {marker}. câu thứ hai {d}."
        documents.append(Document(f"doc{d}.txt", f"doc{d}.txt", f"Tài liệu {d}", None, None, text, f"hash{d}"))
        chunks.append(Chunk(f"c{d}", f"doc{d}.txt", f"Tài liệu {d}", None, 0, len(text), text))
    vectors = np.eye(n_docs, 4, dtype=np.float32)
    return documents, chunks, vectors


def test_write_then_load_round_trip(tmp_path: Path) -> None:
    index_dir = tmp_path / "data" / "index"
    documents, chunks, vectors = tiny()
    store.write(index_dir, SETTINGS, documents, chunks, vectors)
    assert index_dir.is_symlink() and index_dir.resolve().name.startswith(".index-")
    loaded = store.load(index_dir)
    assert loaded.settings == SETTINGS
    assert loaded.documents == {d.id: d for d in documents}
    assert loaded.chunks == chunks
    np.testing.assert_array_equal(loaded.vectors, vectors)
    scores, ids = loaded.faiss_index.search(vectors[1:2], 1)
    assert ids[0][0] == 1 and scores[0][0] == pytest.approx(1.0)
    manifest = json.loads((index_dir / "manifest.json").read_text())
    assert manifest["documents"]["doc1.txt"] == {"content_hash": "hash1", "chunks": ["c1"]}


def test_texts_with_unicode_line_separators_round_trip(tmp_path: Path) -> None:
    # Wikipedia text holds U+2028 and U+0085; they must not split the one-object-a-line stores
    text = "dòng một\u2028dòng hai\x85dòng ba\u2029hết"
    document = Document("w.txt", "w.txt", "Tiêu\u2028đề", None, None, text, "h")
    chunk = Chunk("c0", "w.txt", "Tiêu\u2028đề", None, 0, len(text), text)
    store.write(tmp_path / "index", SETTINGS, [document], [chunk], np.eye(1, 4, dtype=np.float32))
    loaded = store.load(tmp_path / "index")
    assert loaded.chunks == [chunk] and loaded.documents["w.txt"] == document


def test_replacing_leaves_only_the_live_folder(tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    store.write(index_dir, SETTINGS, *tiny(2))
    first = index_dir.resolve()
    store.write(index_dir, SETTINGS, *tiny(3))
    assert index_dir.resolve() != first and not first.exists()
    assert len(store.load(index_dir).chunks) == 3
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "index") == [index_dir.resolve().name]


def test_missing_and_damaged_indexes_say_what_to_run(tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    with pytest.raises(IndexMissingError, match=r"run `rag index seeds/`"):
        store.load(index_dir)
    store.write(index_dir, SETTINGS, *tiny())
    (index_dir / "vectors.npy").write_bytes(b"garbage")
    with pytest.raises(IndexCorruptError, match=r"rag index --rebuild"):
        store.load(index_dir)
    (index_dir / "manifest.json").write_text("{not json")
    with pytest.raises(IndexCorruptError, match=r"damaged .*rag index --rebuild"):
        store.load(index_dir)


def test_parts_that_disagree_are_detected(tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    documents, chunks, vectors = tiny(3)
    store.write(index_dir, SETTINGS, documents, chunks, vectors)
    np.save(index_dir / "vectors.npy", vectors[:2])
    with pytest.raises(IndexCorruptError, match="inconsistent"):
        store.load(index_dir)


def test_a_second_writer_is_refused(tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    with store.lock(index_dir), pytest.raises(LockedError, match="another `rag index`"), store.lock(index_dir):
        pass


WRITER = """
import sys, numpy as np
from pathlib import Path
from rag import store
from rag.types import Chunk, Document
n = 150_000
doc = Document("big.txt", "big.txt", "Lớn", None, None, "x", "h")
chunks = [Chunk(f"c{i}", "big.txt", "Lớn", None, 0, 1, f"đoạn {i}") for i in range(n)]
vectors = np.random.default_rng(0).random((n, 384), dtype=np.float32)
store.write(Path(sys.argv[1]), store.IndexSettings(dim=384), [doc], chunks, vectors)
"""


def test_a_writer_killed_mid_write_leaves_the_previous_index_usable(tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    store.write(index_dir, SETTINGS, *tiny(2, marker="cũ"))
    live = index_dir.resolve()
    env = {**os.environ, "PYTHONPATH": str(CHECKOUT)}
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(index_dir)], env=env)
    try:
        deadline = time.monotonic() + 60
        while not [p for p in tmp_path.glob(".index-*") if p != live and any(p.iterdir())]:
            assert writer.poll() is None, "the writer finished before it could be killed"
            assert time.monotonic() < deadline, "the writer never started writing"
            time.sleep(0.05)
        writer.send_signal(signal.SIGKILL)
    finally:
        writer.wait(timeout=30)
    assert writer.returncode == -signal.SIGKILL
    survivor = store.load(index_dir)  # the old index, whole
    assert index_dir.resolve() == live
    assert [c.text for c in survivor.chunks] == ["văn bản số 0 cũ. câu thứ hai 0.", "văn bản số 1 cũ. câu thứ hai 1."]
    assert len(list(tmp_path.glob(".index-*"))) == 2  # the half-written folder is still there ...
    store.write(index_dir, SETTINGS, *tiny(1))
    assert [p.name for p in tmp_path.glob(".index-*")] == [index_dir.resolve().name]  # ... until the next write


def test_sibling_indexes_do_not_touch_each_other(tmp_path: Path) -> None:
    store.write(tmp_path / "index-a", SETTINGS, *tiny(2))
    store.write(tmp_path / "index-b", SETTINGS, *tiny(3))
    store.write(tmp_path / "index-a", SETTINGS, *tiny(1))
    assert len(store.load(tmp_path / "index-b").chunks) == 3 and len(store.load(tmp_path / "index-a").chunks) == 1


def test_a_plain_folder_is_never_replaced(tmp_path: Path) -> None:
    from rag.errors import ConfigError

    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="not a rag index"):
        store.write(tmp_path / "mine", SETTINGS, *tiny())
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"

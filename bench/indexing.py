"""Indexing throughput and peak memory: `rag index` on the seeds, the XQuAD-vi paragraphs and N viwiki passages.

Each corpus is indexed into a new, empty index folder by a child process running the
real `rag index` code, so the peak resident memory (the child's own, from `wait4`)
covers loading the embedder, reading, chunking, embedding and writing, and nothing
else. Chunks/s is embedding throughput (chunks embedded / seconds spent embedding);
the wall time includes model loading. Passages are written one file each (title line,
then text), as a user's folder of documents would be. Figures go to
bench/results/indexing.json.

    .venv/bin/python -m bench.indexing --data ../shared/data --viwiki 10000
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.results import RESULTS, save
from rag import embed, indexing
from rag.config import CHECKOUT, load_settings


def child(index_dir: Path, threads: int, paths: list[Path]) -> None:
    """What the measured process runs: `rag index` on `paths` into `index_dir`; its report as one JSON line."""
    settings = load_settings(index_dir=index_dir, n_threads=threads)
    report = indexing.update(paths, embed.from_settings(settings), settings)
    summary = {
        "documents": len(report.added),
        "chunks": report.total_chunks,
        "embedded": report.embedded,
        "embed_s": report.embed_seconds,
        "skipped": len(report.skipped),
    }
    print(json.dumps(summary))


def write_passages(viwiki: Path, count: int, folder: Path) -> Path:
    folder.mkdir(parents=True)
    with gzip.open(viwiki / "passages.jsonl.gz", "rt", encoding="utf-8") as f:
        for line in itertools.islice(f, count):
            passage = json.loads(line)
            (folder / f"{passage['id']}.txt").write_text(f"{passage['title']}\n{passage['text']}", encoding="utf-8")
    return folder


@dataclass(frozen=True)
class IndexingRow:
    corpus: str
    documents: int
    chunks: int
    embedded: int
    embed_s: float
    skipped: int
    chunks_per_s: float  # chunks embedded / seconds spent embedding
    wall_s: float  # the whole process, model loading included
    peak_rss_mb: int
    threads: int


def measure(name: str, paths: list[Path], index_dir: Path, threads: int) -> IndexingRow:
    started = time.perf_counter()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.indexing",
            "--child",
            str(index_dir.resolve()),
            str(threads),
            *(str(p.resolve()) for p in paths),
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=CHECKOUT,  # where `bench` is a package
    )
    out = process.stdout.read() if process.stdout else ""
    _, status, usage = os.wait4(process.pid, 0)  # the child's own rusage, not the sum of all children
    wall = time.perf_counter() - started
    if (code := os.waitstatus_to_exitcode(status)) != 0:
        raise SystemExit(f"error: indexing {name} failed (exit {code})")
    report = json.loads(out.strip().split("\n")[-1])
    row = IndexingRow(
        corpus=name,
        **report,
        chunks_per_s=round(report["embedded"] / max(report["embed_s"], 1e-9), 1),
        wall_s=round(wall, 1),
        peak_rss_mb=round(usage.ru_maxrss / 1024),  # KiB on Linux
        threads=threads,
    )
    print(row, flush=True)
    return row


def run(data: Path | None, viwiki: int, threads: int, workdir: Path) -> list[IndexingRow]:
    """Each corpus indexed afresh under `workdir`; the viwiki index stays there (`workdir/viwiki-index`)."""
    rows = [measure("seeds", [CHECKOUT / "seeds"], workdir / "seeds-index", threads)]
    if data is not None:
        paragraphs = data / "xquad_vi" / "corpus_contexts"
        rows.append(measure("xquad-vi paragraphs", [paragraphs], workdir / "xquad-index", threads))
        if viwiki:
            folder = write_passages(data / "viwiki", viwiki, workdir / "viwiki")
            rows.append(measure(f"viwiki {viwiki}", [folder], workdir / "viwiki-index", threads))
    return rows


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:  # the measured process (see `measure`)
        child(Path(argv[1]), int(argv[2]), [Path(p) for p in argv[3:]])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=CHECKOUT.parent / "shared" / "data")
    parser.add_argument("--viwiki", type=int, default=10000, help="viwiki passages to index (0: none)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=RESULTS / "indexing.json")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        rows = run(args.data, args.viwiki, args.threads, Path(tmp))
    return save(rows, args.out)


if __name__ == "__main__":
    sys.exit(main())

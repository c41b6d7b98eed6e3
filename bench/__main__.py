"""`python -m bench`: every benchmark in one run, written to bench/results/bench.json, bench.md and latency.png.

Sections, in order (`--only` picks some):
  indexing     chunks/s and peak memory of `rag index` on the seeds, the XQuAD-vi paragraphs and
               `--viwiki` passages (10,000; `--full`: 100,000), each in a fresh process
  embedding    the torch fp32 embedder against the other embedding backends: throughput and
               XQuAD-vi retrieval quality, side by side
  latency      query latency (embed + search + fuse) at 1k, 10k and 100k chunks, exact against
               HNSW, and HNSW's recall@10 (real e5 vectors where the indexing section built them)
  generation   time to first token and tokens/s, the pipeline against llama-cpp-python called
               directly with the same prompt, with the system prompt cached and cold; 0.5B and 1.5B
  builds       llama.cpp built for this CPU against the portable build: prompt and generation tokens/s, the
               same GGUF and prompts, each build in its own process, taking turns (smoke: the installed one)
  database     the index folder against PostgreSQL with pgvector: writing 10k and 100k chunks, searching them
               exact and HNSW, and pgvector HNSW's recall@10 (a private PostgreSQL on 127.0.0.1)
  cluster      embedding chunks/s: one process against Ray with 1 and 2 workers on this machine
  memory       the running app's resident memory, idle and while answering
`--only` runs some sections and keeps the others' last results in bench.json. `--smoke` runs every
section on a tiny size (what CI runs: it proves the command works; its figures mean nothing).
Figures depend on the machine being otherwise idle.

    .venv/bin/python -m bench --data ../shared/data            # the README's figures
    .venv/bin/python -m bench --data ../shared/data --full     # 100,000 viwiki passages indexed too
    .venv/bin/python -m bench --smoke
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.results import RESULTS, plain
from rag.config import CHECKOUT

SECTIONS = ("indexing", "embedding", "latency", "database", "cluster", "generation", "builds", "memory")


def machine() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory = next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines() if "MemTotal" in line)
    flags = set(Path("/proc/cpuinfo").read_text().split())
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(int(memory) / 1024**2, 1),
        "bf16": bool(flags & {"avx512_bf16", "amx_bf16"}),
        "python": platform.python_version(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    data_help = "the benchmark data folder (XQuAD-vi and viwiki; see ../shared/data/README.md)"
    parser.add_argument("--data", type=Path, default=CHECKOUT.parent / "shared" / "data", help=data_help)
    parser.add_argument("--viwiki", type=int, default=10000, help="viwiki passages to index")
    parser.add_argument("--full", action="store_true", help="index 100,000 viwiki passages (hours on 2 cores)")
    parser.add_argument("--smoke", action="store_true", help="every section on a tiny size: proves the command works")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for bench.json, bench.md, latency.png")
    args = parser.parse_args(argv)
    if not (args.data / "xquad_vi" / "questions.jsonl").is_file():
        print(f"error: no benchmark data at {args.data} (xquad_vi/, viwiki/); pass --data.", file=sys.stderr)
        return 2

    from bench import report
    from rag.edge import run_edge

    viwiki = 100_000 if args.full else args.viwiki
    sizes = [300, 1000] if args.smoke else [1000, 10_000, 100_000]
    results: dict[str, Any] = {"machine": machine(), "smoke": args.smoke, "started": time.strftime("%Y-%m-%d %H:%M")}
    previous = args.out / "bench.json"
    if set(args.only) != set(SECTIONS) and previous.is_file():  # a partial run keeps the other sections' results
        kept = json.loads(previous.read_text(encoding="utf-8"))
        if kept.get("smoke") == args.smoke:
            results = {k: report.revived(k, v) for k, v in kept.items()} | {"machine": results["machine"]}

    def section(name: str, work: Any) -> None:
        if name in args.only:
            print(f"== {name}", flush=True)
            started = time.perf_counter()
            results[name] = work()
            results.setdefault("seconds", {})[name] = round(time.perf_counter() - started)
            results.setdefault("measured", {})[name] = time.strftime("%Y-%m-%d %H:%M")

    def go() -> int:
        from bench import builds, cluster, database, embedding, generation, indexing, memory, search_latency

        with tempfile.TemporaryDirectory(prefix="rag-bench-") as tmp:
            work = Path(tmp)
            section("indexing", lambda: indexing.run(args.data, 200 if args.smoke else viwiki, 2, work))
            section("embedding", lambda: embedding.run(args.data, 64 if args.smoke else 300, smoke=args.smoke))
            real: Path | None = work / "viwiki-index"
            real = real if real and real.exists() else None
            asked, repeats = (5, 1) if args.smoke else (100, 3)
            section("latency", lambda: search_latency.run(args.data, sizes, asked, repeats, real))
            stores = [300] if args.smoke else [10_000, 100_000]
            section("database", lambda: database.run(args.data, stores, asked, repeats))
            section("cluster", lambda: cluster.run(args.data, 32 if args.smoke else None))
            llms = generation.MODELS[:1] if args.smoke else generation.MODELS
            section("generation", lambda: generation.run(2 if args.smoke else 8, llms))
            section("builds", lambda: builds.run(2 if args.smoke else 8, 1 if args.smoke else 3, llms, args.smoke))
            index = work / "seeds-index"
            section("memory", lambda: memory.run(1 if args.smoke else 5, index if index.exists() else None))
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "bench.json").write_text(json.dumps(plain(results), indent=2, ensure_ascii=False) + "\n", "utf-8")
        (args.out / "bench.md").write_text(report.markdown(results), "utf-8")
        if "latency" in results:
            report.latency_chart(results["latency"], args.out / "latency.png")
        print(f"written to {args.out}/bench.json, bench.md" + (", latency.png" if "latency" in results else ""))
        return 0

    return run_edge(go)


if __name__ == "__main__":
    sys.exit(main())

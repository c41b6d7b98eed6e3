"""`python -m bench`'s results as Markdown tables, the issue's targets checked, and latency against size as a PNG."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.search_latency import EF_SWEEP

Row = dict[str, Any]


def table(rows: list[Row], columns: list[str]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(_cell(row.get(c, "")) for c in columns) + " |")
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1 else f"{value:,.1f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def targets(results: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(target, what was measured, met or by how much it was missed, the row it comes from) for each figure."""
    checks: list[tuple[str, str, str, str]] = []

    def check(name: str, value: float | None, goal: float, unit: str, higher: bool, where: str) -> None:
        if value is None:
            return
        met = value >= goal if higher else value <= goal
        if met:
            verdict = "met"
        elif higher:
            verdict = f"missed by {goal - value:.3g}" + (f" ({goal / value:.2f}× too slow)" if "/s" in unit else "")
        else:
            verdict = f"missed by {value - goal:.3g} {unit} ({value / goal:.2f}× the target)"
        checks.append((name, f"{value:,.3g} {unit}".strip(), verdict, where))

    for row in results.get("indexing", []):
        if str(row["corpus"]).startswith("viwiki"):
            check("indexing ≥ 60 chunks/s (viwiki)", row["chunks_per_s"], 60, "chunks/s", True, row["corpus"])
    for row in results.get("latency", []):
        goal = {10_000: 50, 100_000: 150}.get(row["chunks"])
        if goal:
            check(
                f"retrieval p50 ≤ {goal} ms at {row['chunks']:,} (HNSW)",
                row["hnsw p50_ms"],
                goal,
                "ms",
                False,
                f"{row['chunks']:,} chunks, {row['vectors']} vectors",
            )
            check(
                f"HNSW recall@10 ≥ 0.99 at {row['chunks']:,}",
                row["hnsw recall@10"],
                0.99,
                "",
                True,
                f"{row['chunks']:,} chunks, {row['vectors']} vectors",
            )
    generation = results.get("generation", [])
    if generation:
        default = generation[0]
        check(
            "time to first token p50 ≤ 2 s (default model, cached system prompt)",
            default["pipeline cached ttft_ms p50"] / 1000,
            2,
            "s",
            False,
            default["model"],
        )
        for key in ("overhead cached ttft %", "overhead cached tok_s %"):
            if default.get(key) is not None:
                check(f"pipeline overhead ≤ 10% ({key.split()[2]})", default[key], 10, "%", False, default["model"])
    memory = results.get("memory")
    if memory:
        check("app memory ≤ 2.5 GB (peak, answering)", memory["peak_rss_mb"] / 1024, 2.5, "GB", False, "default models")
    return checks


SECTIONS: dict[str, tuple[str, Callable[[Any], str]]] = {
    "indexing": (
        "Indexing (`rag index` in a fresh process)",
        lambda rows: table(rows, ["corpus", "documents", "chunks", "chunks_per_s", "embed_s", "wall_s", "peak_rss_mb"]),
    ),
    "embedding": (
        "Embedding backends",
        lambda rows: table(
            rows,
            [
                "backend",
                "texts",
                "texts_per_s",
                "speed-up",
                "recall@1",
                "recall@5",
                "recall@5 change",
                "cosine to torch",
            ],
        ),
    ),
    "latency": (
        "Query latency (embed + search + fuse), exact against HNSW",
        lambda rows: table(
            rows,
            [
                "chunks",
                "vectors",
                "exact p50_ms",
                "exact p95_ms",
                "hnsw p50_ms",
                "hnsw p95_ms",
                "hnsw recall@10",
                "exact write_s",
                "hnsw write_s",
            ],
        ),
    ),
    "hnsw": (
        "HNSW recall@10 against exact search, by search breadth (efSearch)",
        lambda rows: table(
            [
                {
                    "chunks": r["chunks"],
                    "vectors": r["vectors"],
                    "exact search_ms": r.get("exact search_ms", ""),
                    **{
                        f"ef {ef}": f"{r[f'hnsw ef {ef} recall@10']:.3f} ({r[f'hnsw ef {ef} search_ms']} ms)"
                        for ef in EF_SWEEP
                        if f"hnsw ef {ef} recall@10" in r
                    },
                }
                for r in rows
            ],
            ["chunks", "vectors", "exact search_ms", *(f"ef {ef}" for ef in EF_SWEEP)],
        ),
    ),
    "generation": (
        "Generation: the pipeline against llama-cpp-python directly",
        lambda rows: table(
            rows,
            [
                "model",
                "questions",
                "prompt tokens p50",
                "prompt eval tok_s p50",
                "pipeline cached ttft_ms p50",
                "direct cached ttft_ms p50",
                "overhead cached ttft %",
                "pipeline cold ttft_ms p50",
                "direct cold ttft_ms p50",
                "overhead cold ttft %",
                "pipeline cached tok_s p50",
                "direct cached tok_s p50",
                "overhead cached tok_s %",
            ],
        ),
    ),
    "memory": (
        "The app's resident memory (MB)",
        lambda row: table([row], ["questions", "idle_rss_mb", "answering_rss_mb", "peak_rss_mb"]),
    ),
}


def markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    parts = [
        "# Benchmark results" + (" (smoke run: tiny sizes, the figures mean nothing)" if results["smoke"] else ""),
        f"{m['cpu']} ({'with' if m['bf16'] else 'without'} bfloat16 instructions), {m['cores']} cores, "
        f"{m['memory_gb']} GB, Python {m['python']}; started {results['started']}; "
        f"seconds per section: {results.get('seconds', {})}",
    ]
    for name, (title, render) in SECTIONS.items():
        rows = results.get("latency" if name == "hnsw" else name)
        if rows:
            parts.append(f"## {title}\n\n{render(rows)}")
    checks = targets(results)
    if checks:
        columns = ["target", "measured", "verdict", "from"]
        parts.append("## Targets\n\n" + table([dict(zip(columns, c, strict=True)) for c in checks], columns))
    return "\n\n".join(parts) + "\n"


def latency_chart(rows: list[Row], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    sizes = [r["chunks"] for r in rows]
    for kind, style in (("exact", "o-"), ("hnsw", "s--")):
        ax.plot(sizes, [r[f"{kind} p50_ms"] for r in rows], style, label=f"{kind} p50")
        ax.plot(sizes, [r[f"{kind} p95_ms"] for r in rows], style, alpha=0.4, label=f"{kind} p95")
    ax.set_xscale("log")
    ax.set_xlabel("chunks in the index")
    ax.set_ylabel("query latency (ms): embed + search + fuse")
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)

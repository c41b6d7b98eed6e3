"""`python -m bench`'s results as Markdown tables, the issue's targets checked, and latency against size as a PNG.

Each section's rows are the frozen dataclasses its module measures (`IndexingRow`, `LatencyRow`, …);
`revive` turns the JSON of an earlier run back into them, so a partial run (`--only`) reports the
kept sections the same way. This module formats; it measures nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any, TypeVar, get_args, get_origin, get_type_hints

from bench.builds import BuildRow
from bench.cluster import ClusterRow
from bench.database import StoreRow
from bench.embedding import EmbeddingRow
from bench.generation import GenerationRow
from bench.indexing import IndexingRow
from bench.memory import MemoryRow
from bench.search_latency import EF_SWEEP, LatencyRow

T = TypeVar("T")
Column = tuple[str, Callable[[Any], Any]]  # header, and how a row gives its cell
ROWS: dict[str, type] = {
    "indexing": IndexingRow,
    "embedding": EmbeddingRow,
    "latency": LatencyRow,
    "generation": GenerationRow,
    "builds": BuildRow,
    "memory": MemoryRow,
    "database": StoreRow,
    "cluster": ClusterRow,
}


def revive(cls: type[T], data: Any) -> T:
    """A row dataclass (with its nested rows) from its JSON form."""
    hints = get_type_hints(cls)
    values = {}
    for f in fields(cls):  # type: ignore[arg-type]
        kind, value = hints[f.name], data.get(f.name)
        inner = [a for a in get_args(kind) if a is not type(None)]
        if value is not None and is_dataclass(kind):
            value = revive(kind, value)  # type: ignore[arg-type]
        elif value is not None and get_origin(kind) is list and inner and is_dataclass(inner[0]):
            value = [revive(inner[0], v) for v in value]  # type: ignore[arg-type]
        elif value is not None and len(inner) == 1 and is_dataclass(inner[0]):  # Optional[Row]
            value = revive(inner[0], value)  # type: ignore[arg-type]
        values[f.name] = value
    return cls(**values)


def revived(name: str, data: Any) -> Any:
    """A section's results from JSON: a list of rows (a single row for memory)."""
    cls = ROWS.get(name)
    if cls is None:
        return data
    return revive(cls, data) if isinstance(data, dict) else [revive(cls, d) for d in data]


def table(rows: Sequence[Any], columns: Sequence[Column]) -> str:
    lines = ["| " + " | ".join(h for h, _ in columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(_cell(cell(row)) for _, cell in columns) + " |")
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return ""
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
        if row.corpus.startswith("viwiki"):
            check("indexing ≥ 60 chunks/s (viwiki)", row.chunks_per_s, 60, "chunks/s", True, row.corpus)
    for row in results.get("latency", []):
        goal = {10_000: 50, 100_000: 150}.get(row.chunks)
        if goal:
            where = f"{row.chunks:,} chunks, {row.vectors} vectors"
            check(f"retrieval p50 ≤ {goal} ms at {row.chunks:,} (HNSW)", row.hnsw.p50_ms, goal, "ms", False, where)
            check(f"HNSW recall@10 ≥ 0.99 at {row.chunks:,}", row.hnsw_recall_at_10, 0.99, "", True, where)
    generation = results.get("generation", [])
    if generation:
        default = generation[0]
        ttft = default.pipeline_cached.ttft_ms_p50 / 1000
        check("time to first token p50 ≤ 2 s (default model, cached system prompt)", ttft, 2, "s", False, default.model)
        for what, value in (("ttft", default.overhead_cached_ttft_pct), ("tok_s", default.overhead_cached_tok_s_pct)):
            check(f"pipeline overhead ≤ 10% ({what})", value, 10, "%", False, default.model)
    for row in results.get("builds", []):
        if row.build == "native" and row.prompt_speed_up is not None:
            where = f"{row.model}, {row.prompts} prompts"
            check("prompt evaluation ≥ 1.5× the portable build's", row.prompt_speed_up, 1.5, "×", True, where)
    memory = results.get("memory")
    if memory:
        check("app memory ≤ 2.5 GB (peak, answering)", memory.peak_rss_mb / 1024, 2.5, "GB", False, "default models")
    return checks


def _sweep(row: LatencyRow, ef: int) -> str:
    point = next((b for b in row.sweep if b.ef == ef), None)
    return f"{point.recall_at_10:.3f} ({point.search_ms} ms)" if point else ""


SECTIONS: dict[str, tuple[str, list[Column]]] = {
    "indexing": (
        "Indexing (`rag index` in a fresh process)",
        [
            (name, lambda r, n=name: getattr(r, n))
            for name in ("corpus", "documents", "chunks", "chunks_per_s", "embed_s", "wall_s", "peak_rss_mb")
        ],
    ),
    "embedding": (
        "Embedding backends",
        [
            ("backend", lambda r: r.backend),
            ("texts", lambda r: r.texts),
            ("texts_per_s", lambda r: r.texts_per_s),
            ("speed-up", lambda r: r.speed_up),
            ("recall@1", lambda r: r.recall and r.recall.at_1),
            ("recall@5", lambda r: r.recall and r.recall.at_5),
            ("recall@5 change", lambda r: r.recall_at_5_change),
            ("cosine to torch", lambda r: r.cosine_to_torch),
        ],
    ),
    "latency": (
        "Query latency (embed + search + fuse), exact against HNSW",
        [
            ("chunks", lambda r: r.chunks),
            ("vectors", lambda r: r.vectors),
            ("exact p50_ms", lambda r: r.exact.p50_ms),
            ("exact p95_ms", lambda r: r.exact.p95_ms),
            ("hnsw p50_ms", lambda r: r.hnsw.p50_ms),
            ("hnsw p95_ms", lambda r: r.hnsw.p95_ms),
            ("hnsw recall@10", lambda r: r.hnsw_recall_at_10),
            ("exact write_s", lambda r: r.exact.write_s),
            ("hnsw write_s", lambda r: r.hnsw.write_s),
        ],
    ),
    "hnsw": (
        "HNSW recall@10 against exact search, by search breadth (efSearch)",
        [
            ("chunks", lambda r: r.chunks),
            ("vectors", lambda r: r.vectors),
            ("exact search_ms", lambda r: r.exact.search_ms),
            *((f"ef {ef}", lambda r, ef=ef: _sweep(r, ef)) for ef in EF_SWEEP),
        ],
    ),
    "generation": (
        "Generation: the pipeline against llama-cpp-python directly",
        [
            ("model", lambda r: r.model),
            ("questions", lambda r: r.questions),
            ("prompt tokens p50", lambda r: r.prompt_tokens_p50),
            ("prompt eval tok_s p50", lambda r: r.prompt_eval_tok_s_p50),
            ("pipeline cached ttft_ms p50", lambda r: r.pipeline_cached.ttft_ms_p50),
            ("direct cached ttft_ms p50", lambda r: r.direct_cached.ttft_ms_p50),
            ("overhead cached ttft %", lambda r: r.overhead_cached_ttft_pct),
            ("pipeline cold ttft_ms p50", lambda r: r.pipeline_cold.ttft_ms_p50),
            ("direct cold ttft_ms p50", lambda r: r.direct_cold.ttft_ms_p50),
            ("overhead cold ttft %", lambda r: r.overhead_cold_ttft_pct),
            ("pipeline cached tok_s p50", lambda r: r.pipeline_cached.tok_s_p50),
            ("direct cached tok_s p50", lambda r: r.direct_cached.tok_s_p50),
            ("overhead cached tok_s %", lambda r: r.overhead_cached_tok_s_pct),
        ],
    ),
    "builds": (
        "llama.cpp builds: this CPU's against the portable one (whole prompts, no cache, 32 tokens)",
        [
            ("model", lambda r: r.model),
            ("build", lambda r: r.build),
            ("prompts", lambda r: r.prompts),
            ("prompt tokens p50", lambda r: r.prompt_tokens_p50),
            ("prompt tok_s p50", lambda r: r.prompt_tok_s_p50),
            ("generated tok_s p50", lambda r: r.generate_tok_s_p50),
            ("ttft_ms p50", lambda r: r.ttft_ms_p50),
            ("prompt speed-up", lambda r: r.prompt_speed_up),
            ("kernels", lambda r: r.kernels.removeprefix("CPU : ").replace(" = 1", "").replace(" |", "")),
        ],
    ),
    "database": (
        "The two stores: writing an index (no embedding) and searching it (embed + search + fuse)",
        [
            ("store", lambda r: r.store),
            ("search", lambda r: r.search),
            ("chunks", lambda r: r.chunks),
            ("vectors", lambda r: r.vectors),
            ("write_s", lambda r: r.write_s),
            ("chunks/s written", lambda r: r.chunks_per_s),
            ("p50_ms", lambda r: r.p50_ms),
            ("p95_ms", lambda r: r.p95_ms),
            ("hnsw recall@10", lambda r: r.recall_at_10),
            ("hnsw in plan", lambda r: r.hnsw_planned),
        ],
    ),
    "cluster": (
        "Embedding: one process against Ray workers on this machine (whole runs)",
        [(name, lambda r, n=name: getattr(r, n)) for name in ("how", "chunks", "seconds", "chunks_per_s")],
    ),
    "memory": (
        "The app's resident memory (MB)",
        [
            (name, lambda r, n=name: getattr(r, n))
            for name in ("questions", "idle_rss_mb", "answering_rss_mb", "peak_rss_mb")
        ],
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
    for name, (title, columns) in SECTIONS.items():
        rows = results.get("latency" if name == "hnsw" else name)
        if rows:
            parts.append(f"## {title}\n\n{table(rows if isinstance(rows, list) else [rows], columns)}")
    checks = targets(results)
    if checks:
        headers = ("target", "measured", "verdict", "from")
        parts.append("## Targets\n\n" + table(checks, [(h, lambda c, i=i: c[i]) for i, h in enumerate(headers)]))
    return "\n\n".join(parts) + "\n"


def latency_chart(rows: list[LatencyRow], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    sizes = [r.chunks for r in rows]
    for kind, style in (("exact", "o-"), ("hnsw", "s--")):
        ax.plot(sizes, [getattr(r, kind).p50_ms for r in rows], style, label=f"{kind} p50")
        ax.plot(sizes, [getattr(r, kind).p95_ms for r in rows], style, alpha=0.4, label=f"{kind} p95")
    ax.set_xscale("log")
    ax.set_xlabel("chunks in the index")
    ax.set_ylabel("query latency (ms): embed + search + fuse")
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)

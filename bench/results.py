"""Where benchmark figures go: `bench/results/` (git-ignored), one JSON file a section run on its own."""

from __future__ import annotations

import json
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

from rag.config import CHECKOUT

RESULTS = CHECKOUT / "bench" / "results"


def plain(value: Any) -> Any:
    """Rows (frozen dataclasses) and lists of them as JSON-ready values."""
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def save(results: Any, out: Path) -> int:
    """Write one section's results as JSON (a section run as a command of its own); exit code 0."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(plain(results), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"written to {out}")
    return 0

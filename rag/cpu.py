"""Which llama.cpp build this environment has, and whether it can run on this CPU.

`scripts/llama_build.py` (what `make` runs) installs llama-cpp-python built for the CPU that compiled it and
writes what it was built for into the virtual environment (`rag-llama-build.json`: native or portable, and the
CPU's instruction flags). Before llama.cpp is loaded, `check_build` compares those flags with this CPU's: a native
build copied to a CPU without them would crash with an illegal instruction, so it is refused with the fix instead.
`kernels` reports what llama.cpp itself says it uses, and `runs` whether it writes with a model here, in a process
of its own so that a crash is reported, not suffered (both in `rag models verify`). An environment installed some
other way has no record: nothing is refused, and the report says so.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from rag.errors import GeneratorError

STAMP = "rag-llama-build.json"
FEATURES = re.compile(r"\b([A-Z][A-Z0-9_]*) = 1\b")
PROBE = (
    "import sys, llama_cpp; "
    "llm = llama_cpp.Llama(model_path=sys.argv[1], n_ctx=256, n_threads=2, n_threads_batch=2, verbose=False); "
    "llm.create_completion('Văn phòng Quốc hội', max_tokens=2)"
)


@dataclass(frozen=True)
class Build:
    native: bool
    key: str
    flags: frozenset[str]  # the CPU flags a native build may use (empty for the portable build)


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """This CPU's instruction flags (empty when the system does not say)."""
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return frozenset()


def recorded_build(prefix: Path | None = None) -> Build | None:
    """What `scripts/llama_build.py` recorded in the environment at `prefix` (this one), or None."""
    try:
        data = json.loads((Path(prefix or sys.prefix) / STAMP).read_text(encoding="utf-8"))
        return Build(bool(data["native"]), str(data["key"]), frozenset(data["flags"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def check_build(build: Build | None, flags: frozenset[str]) -> None:
    """A `GeneratorError` naming the fix when `build` needs instructions this CPU (with `flags`) does not have."""
    if build is None or not build.native or not flags:
        return
    missing = sorted(build.flags - flags)
    if missing:
        shown = ", ".join(missing[:8]) + (", …" if len(missing) > 8 else "")
        raise GeneratorError(
            f"llama.cpp in this environment was built for another CPU (it may use {shown}, which this CPU lacks) "
            "and would crash here; build it for this CPU: `make` (or `python scripts/llama_build.py`, or "
            "`python scripts/llama_build.py --portable` for a build that runs on any x86-64 CPU)."
        )


def kernels() -> str:
    """What llama.cpp reports using (its system info, the features that are on), and how it was built."""
    import llama_cpp

    info = llama_cpp.llama_print_system_info().decode("utf-8", errors="replace")
    on = FEATURES.findall(info)
    build = recorded_build()
    how = (
        "not installed by scripts/llama_build.py"
        if build is None
        else f"native build for this CPU ({build.key})"
        if build.native
        else "portable build"
    )
    return f"llama.cpp {llama_cpp.__version__}, {how}: {' '.join(on) or info.strip()}"


def runs(model: Path, timeout_s: float = 300) -> str | None:
    """None when llama.cpp, in a process of its own, loads `model` and writes with it; else what went wrong and the
    fix (a build that crashes on this CPU is reported with the portable build as the way out)."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", PROBE, str(model)], capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except subprocess.TimeoutExpired:
        return f"llama.cpp did not write with {model.name} within {timeout_s:g} s"
    if done.returncode == 0:
        return None
    if done.returncode < 0:
        name = signal.Signals(-done.returncode).name
        return (
            f"llama.cpp crashed ({name}) writing with {model.name} on this CPU; build the portable llama.cpp: "
            "`RAG_LLAMA_BUILD=portable make` (or `python scripts/llama_build.py --portable`)"
        )
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    return f"llama.cpp could not write with {model.name}: {lines[-1] if lines else f'exit {done.returncode}'}"

"""Install llama-cpp-python built for the CPU it runs on, from a wheel kept per CPU: what `make` runs.

llama.cpp built with `-DGGML_NATIVE=ON` uses every instruction of the machine that compiles it (AVX-512, VNNI, BF16
here; not AMX, whose kernels crash on these models: see `NO_AMX`) and may crash with an illegal instruction on a
CPU without them. So a native wheel is kept under a key made from the CPU's instruction flags
(`~/.cache/rag-vi/llama-cpp-python/<version>/<key>/`), never in pip's own cache (which is keyed by the source
package alone and would hand it to any CPU), and the virtual environment records what it was built for
(`<venv>/rag-llama-build.json`) so that `rag` refuses, with the fix, to load it on a CPU that lacks those flags.

    python scripts/llama_build.py              # native for this CPU (builds once per CPU, ~12 min on 2 cores)
    python scripts/llama_build.py --portable   # the portable AVX2 build (-DGGML_NATIVE=OFF), e.g. for an image
    python scripts/llama_build.py --wheel-only --portable   # print the path of the wheel, build it if needed

Without /proc/cpuinfo (not Linux), or with RAG_LLAMA_BUILD=portable, the portable build is used.
Standard library and `rag.cpu` only: it runs before the project is installed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout's rag.cpu (standard library only)
from rag.cpu import STAMP, cpu_flags

VERSION = "0.3.36"  # the pin in pyproject.toml (a test keeps them equal)
# llama.cpp's AMX kernels (chosen by -march=native on Sapphire Rapids) crash in the first decode of these Q4_K_M
# models (measured here: a segmentation fault; llama.cpp issue #20824): everything native but AMX
NO_AMX = "-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"


def recipe(native: bool) -> dict[str, str]:
    """The environment a build is made with: CMake's options, and the compiler flags of a native x86-64 build."""
    if not native:
        return {"CMAKE_ARGS": "-DGGML_NATIVE=OFF"}
    x86 = platform.machine() in ("x86_64", "AMD64")
    return {"CMAKE_ARGS": "-DGGML_NATIVE=ON"} | ({"CFLAGS": NO_AMX, "CXXFLAGS": NO_AMX} if x86 else {})


def build_key(flags: list[str], portable: bool) -> str:
    """`portable`, or the architecture and a digest of the flags: CPUs with the same flags share a native wheel."""
    if portable or not flags:
        return "portable"
    made = json.dumps(recipe(native=True), sort_keys=True)  # another recipe is another wheel
    return f"{platform.machine()}-{hashlib.sha256((' '.join(flags) + made).encode()).hexdigest()[:16]}"


def wheel_dir(key: str) -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "rag-vi" / "llama-cpp-python" / VERSION / key


def find_or_build(key: str) -> Path:
    """The wheel for `key`, built first when there is none (the portable one may come from pip's cache)."""
    where = wheel_dir(key)
    found = sorted(where.glob("llama_cpp_python-*.whl"))
    if found:
        return found[-1]
    native = key != "portable"
    made = recipe(native)
    shown = " ".join(f"{k}={v!r}" for k, v in made.items())
    print(f"building llama-cpp-python {VERSION} ({shown}) once for this CPU: 10-14 minutes on 2 cores", flush=True)
    where.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=where.parent) as tmp:
        command = [sys.executable, "-m", "pip", "wheel", "--disable-pip-version-check", "--no-deps", "-w", tmp]
        command += ["--no-cache-dir"] if native else []  # a native wheel must never enter pip's cache
        subprocess.run([*command, f"llama-cpp-python=={VERSION}"], check=True, env=os.environ | made)
        (built,) = Path(tmp).glob("llama_cpp_python-*.whl")
        staged = Path(tmp) / "done"
        staged.mkdir()
        shutil.move(built, staged / built.name)
        if where.exists():  # another build finished first: keep its wheel
            shutil.rmtree(staged)
        else:
            staged.rename(where)  # whole or not at all
    return sorted(where.glob("llama_cpp_python-*.whl"))[-1]


def installed_stamp() -> dict[str, object] | None:
    try:
        return json.loads((Path(sys.prefix) / STAMP).read_text(encoding="utf-8"))  # type: ignore[no-any-return]
    except (OSError, ValueError):
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--portable", action="store_true", help="the portable build (-DGGML_NATIVE=OFF)")
    parser.add_argument("--wheel-only", action="store_true", help="print the wheel's path; install nothing")
    args = parser.parse_args(argv)
    flags = sorted(cpu_flags())
    key = build_key(flags, args.portable or os.environ.get("RAG_LLAMA_BUILD") == "portable")
    wheel = find_or_build(key)
    if args.wheel_only:
        print(wheel)
        return 0
    stamp = {"version": VERSION, "key": key, "native": key != "portable", "flags": flags if key != "portable" else []}
    if installed_stamp() != stamp:
        pip = [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "--no-deps", "--force-reinstall"]
        subprocess.run([*pip, str(wheel)], check=True)
        (Path(sys.prefix) / STAMP).write_text(json.dumps(stamp, indent=1), encoding="utf-8")
    print(f"llama-cpp-python {VERSION}: {'native build for this CPU' if stamp['native'] else 'portable build'} ({key})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

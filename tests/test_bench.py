"""`python -m bench` end to end on a tiny size (its smoke run, what CI runs) and its errors.

The smoke run proves the command works and writes well-formed results; its figures mean
nothing (tiny sizes, a busy machine) and are never asserted on.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench import __main__ as bench
from rag.config import CHECKOUT

DATA = CHECKOUT.parent / "shared" / "data"


@pytest.mark.real
def test_the_smoke_run_measures_every_section_and_writes_the_report(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "bench", "--smoke", "--data", str(DATA), "--out", str(tmp_path)]
    result = subprocess.run(command, cwd=CHECKOUT, capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads((tmp_path / "bench.json").read_text(encoding="utf-8"))
    assert results["smoke"] and set(bench.SECTIONS) <= set(results)

    assert [r["corpus"] for r in results["indexing"]] == ["seeds", "xquad-vi paragraphs", "viwiki 200"]
    assert all(r["embedded"] == r["chunks"] > 0 and r["peak_rss_mb"] > 100 for r in results["indexing"])
    backends = {r["backend"]: r for r in results["embedding"]}
    assert list(backends) == [
        "torch fp32",
        "openvino (default)",
        "openvino, batches of 16",
        "openvino, batches of 32",
        "openvino, unpadded",
        "openvino int8 (nncf static)",
        "openvino int8 weights (nncf)",
        "openvino f32",
        "onnxruntime fp32",
        "onnxruntime int8",
    ]
    assert backends["torch fp32"]["speed_up"] == 1.0 and backends["torch fp32"]["recall_at_5_change"] == 0
    assert backends["openvino (default)"]["cosine_to_torch"] > 0.999  # the same weights, another runtime
    assert 0.9 < backends["openvino (default)"]["recall"]["at_5"] <= 1  # all 1,190 XQuAD-vi questions
    assert [(r["chunks"], 0 <= r["hnsw_recall_at_10"] <= 1) for r in results["latency"]] == [(300, True), (1000, True)]
    (generation,) = results["generation"]
    assert generation["questions"] >= 1
    assert generation["pipeline_cached"]["ttft_ms_p50"] > 0 and generation["direct_cold"]["ttft_ms_p50"] > 0
    (build,) = results["builds"]  # the smoke run measures the installed build alone
    assert build["build"] == "installed" and build["prompts"] == 1 and build["prompt_tok_s_p50"] > 0
    assert "AVX" in build["kernels"] and build["prompt_speed_up"] is None
    assert 100 < results["memory"]["idle_rss_mb"] <= results["memory"]["peak_rss_mb"]

    report = (tmp_path / "bench.md").read_text(encoding="utf-8")
    assert "smoke run" in report and "## Targets" in report and "| openvino (default) |" in report
    assert (tmp_path / "latency.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_missing_benchmark_data_is_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(["--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: no benchmark data at {tmp_path / 'nowhere'}") and "pass --data" in err
    assert "Traceback" not in err and not (tmp_path / "out").exists()

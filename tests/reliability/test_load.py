"""Load and soak with the real default models over the seeds: CI's sizes of `bench.load` and `bench.soak`.

Load: 48 `/ask` requests from 8 concurrent gradio_client clients against `rag serve` on 127.0.0.1:
no error, no answer citing outside its own question's retrieval, each equal to its question's solo
run. Soak: 50 questions in a row in one process; resident memory grows by at most 10% after warm-up.
The README's larger runs (200 requests from 16 clients; 300 questions) use the same commands.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Tally, installed_model

from bench import load, soak
from rag.config import CHECKOUT, Settings
from rag.pipeline import Pipeline

pytestmark = pytest.mark.real


@pytest.fixture(scope="module")
def seeds_env(real_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    installed_model(real_settings, "llm")
    index_dir = tmp_path_factory.mktemp("load") / "index"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env |= {
        "RAG_INDEX_DIR": str(index_dir),
        "RAG_MODELS_DIR": str(real_settings.models_path),
        "RAG_MANIFEST": str(real_settings.manifest_path),
        "RAG_N_THREADS": "2",
    }
    index = [sys.executable, "-m", "rag", "index", str(CHECKOUT / "seeds")]
    subprocess.run(index, env=env, check=True, capture_output=True, timeout=600)
    return env


def test_48_requests_from_8_clients_are_all_answered_each_as_if_asked_alone(
    seeds_env: dict[str, str], tally: Tally
) -> None:
    with load.served(seeds_env) as (url, pid):
        before = load.rss_mb(pid)
        figures = load.run(url, load.seeds_questions(8), requests=48, clients=8, top_k=5)
        after = load.rss_mb(pid)
    assert figures["served"] == 48 and figures["errors"] == 0, figures["error_examples"]
    assert figures["mixed_up"] == 0, figures
    assert figures["differing_from_solo"] == 0, figures["differing_examples"]
    assert set(figures["modes"]) <= {"generated", "extractive", "abstained"}
    tally.add("requests served under load", figures["served"])
    tally.figure(
        "load, 48 requests from 8 clients",
        f"p50 {figures['latency_ms_p50']:,} ms, p95 {figures['latency_ms_p95']:,} ms, "
        f"{figures['throughput_per_s']} answers/s; server memory {before:,.0f} → {after:,.0f} MB",
    )


def test_50_questions_in_a_row_grow_memory_by_at_most_ten_percent(
    seeds_env: dict[str, str], real_settings: Settings, tally: Tally
) -> None:
    settings = real_settings.model_copy(update={"index_dir": Path(seeds_env["RAG_INDEX_DIR"])})
    pipeline = Pipeline.load(settings)
    pipeline.warm_up()
    figures = soak.run(pipeline, questions=50, warm_up=5)
    assert figures["growth"] <= 0.10 and figures["growth_highest"] <= 0.10, figures["readings"]
    assert sum(figures["modes"].values()) == 50
    tally.add("questions answered in a row", 50)
    tally.figure(
        "soak, 50 questions in a row",
        f"{figures['rss_mb_after_warm_up']:,} MB after warm-up → {figures['rss_mb_last']:,} MB "
        f"({figures['growth']:.1%})",
    )

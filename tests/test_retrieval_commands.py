"""The retrieval evaluation and indexing benchmark commands run end to end on the seeds with the real embedder.

Smoke runs: they prove the commands work and write well-formed results; the scores and
timings belong in the README, not in assertions.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import indexing as bench_indexing
from eval import seeds_retrieval
from rag.config import CHECKOUT

pytestmark = pytest.mark.real


def test_seeds_retrieval_scores_every_configuration(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = (CHECKOUT / "eval" / "seeds_qa.jsonl").read_text("utf-8").split("\n")
    answerable = [line for line in lines if line.strip() and json.loads(line)["answerable"]]
    sample = [*answerable[:6], *[line for line in answerable if json.loads(line)["history"]][:2]]
    (tmp_path / "q.jsonl").write_text("\n".join(sample) + "\n", encoding="utf-8")
    out = tmp_path / "r.json"
    assert seeds_retrieval.main(["--questions", str(tmp_path / "q.jsonl"), "--out", str(out)]) == 0
    results = json.loads(out.read_text())["results"]
    assert set(results) == {"dense", "bm25", "hybrid 50/50", "rrf"}
    for groups in results.values():
        assert groups["single question"]["questions"] == 6 and groups["follow-up, as asked"]["questions"] == 2
        assert all(0 <= r[m] <= 1 for r in groups.values() for m in ("recall@1", "recall@5", "all@5", "mrr"))
    assert "hybrid 50/50" in capsys.readouterr().out


def test_indexing_benchmark_measures_the_seeds_in_a_child_process(tmp_path: Path) -> None:
    out = tmp_path / "indexing.json"
    assert bench_indexing.main(["--viwiki", "0", "--out", str(out)]) == 0
    row, paragraphs = json.loads(out.read_text())
    assert row["corpus"] == "seeds" and row["documents"] == 5 and row["embedded"] == row["chunks"] > 0
    assert row["chunks_per_s"] > 0 and row["peak_rss_mb"] > 100  # the child loaded the runtime and the model
    assert (paragraphs["corpus"], paragraphs["documents"]) == ("xquad-vi paragraphs", 240)

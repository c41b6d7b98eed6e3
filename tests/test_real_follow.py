"""`rag serve` follows the index for real: a `rag index` run in another process replaces the index, and the running
app searches and lists the new one at the next call, without a restart."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import free_port, installed_model, stop

from rag.config import Settings

pytestmark = pytest.mark.real

HUE = "Thành phố Huế\n\nThành phố Huế có 11 cây cầu bắc qua sông Hương. Chợ đêm mở cửa lúc 18 giờ."
VINH = "Thành phố Vinh\n\nThành phố Vinh có 12 cây cầu bắc qua sông Lam. Chợ đêm mở cửa lúc 19 giờ."


def test_the_running_app_sees_an_index_replaced_by_rag_index(real_settings: Settings, tmp_path: Path) -> None:
    from gradio_client import Client

    installed_model(real_settings, "llm")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env |= {
        "RAG_HOME": str(tmp_path),
        "RAG_MODELS_DIR": str(real_settings.models_path),
        "RAG_MANIFEST": str(real_settings.manifest_path),
        "RAG_N_THREADS": "2",
    }
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "hue.txt").write_text(HUE, encoding="utf-8")
    rag = [sys.executable, "-m", "rag"]
    subprocess.run([*rag, "index", str(docs)], env=env, check=True, capture_output=True, timeout=600)
    port, log = free_port(), tmp_path / "serve.log"
    process = subprocess.Popen(
        [*rag, "serve", "--port", str(port)], env=env, cwd=tmp_path, stdout=log.open("wb"), stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 300
        while "ready in" not in log.read_text(errors="replace"):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"rag serve did not start: {log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.5)
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        assert [d["id"] for d in client.predict(api_name="/documents")] == ["docs/hue.txt"]
        (docs / "vinh.txt").write_text(VINH, encoding="utf-8")
        subprocess.run([*rag, "index", str(docs)], env=env, check=True, capture_output=True, timeout=600)
        assert [d["id"] for d in client.predict(api_name="/documents")] == ["docs/hue.txt", "docs/vinh.txt"]
        hits = client.predict("Vinh sông Lam", 2, api_name="/search")
        assert hits[0]["doc_id"] == "docs/vinh.txt"
    finally:
        stop(process)

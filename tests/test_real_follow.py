"""`rag serve` follows the index for real: a `rag index` run in another process replaces the index, and the running
app searches and lists the new one at the next call, without a restart."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import installed_model, rag_serve, real_env

from rag.config import Settings

pytestmark = pytest.mark.real

HUE = "Thành phố Huế\n\nThành phố Huế có 11 cây cầu bắc qua sông Hương. Chợ đêm mở cửa lúc 18 giờ."
VINH = "Thành phố Vinh\n\nThành phố Vinh có 12 cây cầu bắc qua sông Lam. Chợ đêm mở cửa lúc 19 giờ."


def test_the_running_app_sees_an_index_replaced_by_rag_index(real_settings: Settings, tmp_path: Path) -> None:
    from gradio_client import Client

    installed_model(real_settings, "llm")
    env = real_env(real_settings, tmp_path)
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "hue.txt").write_text(HUE, encoding="utf-8")
    index = [sys.executable, "-m", "rag", "index", str(docs)]
    subprocess.run(index, env=env, check=True, capture_output=True, timeout=600)
    with rag_serve(env, tmp_path) as url:
        client = Client(url, verbose=False)
        assert [d["id"] for d in client.predict(api_name="/documents")] == ["docs/hue.txt"]
        (docs / "vinh.txt").write_text(VINH, encoding="utf-8")
        subprocess.run(index, env=env, check=True, capture_output=True, timeout=600)  # another process
        assert [d["id"] for d in client.predict(api_name="/documents")] == ["docs/hue.txt", "docs/vinh.txt"]
        hits = client.predict("Vinh sông Lam", 2, api_name="/search")
        assert hits[0]["doc_id"] == "docs/vinh.txt"

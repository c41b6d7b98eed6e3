"""Two `rag serve` processes, on two ports and two homes, share one index in PostgreSQL: a document uploaded in one
app's browser page is listed and searched by the other at its next call, and one removed there is gone from both."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import chromium_page, installed_model, rag_serve, real_env

from rag.config import Settings

pytestmark = [pytest.mark.real, pytest.mark.browser]

HUE = "Thành phố Huế\n\nThành phố Huế có 11 cây cầu bắc qua sông Hương. Chợ đêm mở cửa lúc 18 giờ."
VINH = "Thành phố Vinh\n\nThành phố Vinh có 12 cây cầu bắc qua sông Lam. Chợ đêm mở cửa lúc 19 giờ."


def test_an_upload_in_one_app_is_searchable_from_another_on_the_same_database(
    real_settings: Settings, tmp_path: Path, database_url: str
) -> None:
    from gradio_client import Client

    installed_model(real_settings, "llm")
    homes = [tmp_path / "a", tmp_path / "b"]
    envs = [real_env(real_settings, home) | {"RAG_DATABASE_URL": database_url} for home in homes]
    docs = homes[0] / "docs"
    docs.mkdir(parents=True)
    homes[1].mkdir()
    (docs / "hue.txt").write_text(HUE, encoding="utf-8")
    index = [sys.executable, "-m", "rag", "index", str(docs)]
    subprocess.run(index, env=envs[0], check=True, capture_output=True, timeout=600)
    upload = tmp_path / "vinh.txt"
    upload.write_text(VINH, encoding="utf-8")
    with rag_serve(envs[0], homes[0]) as first, rag_serve(envs[1], homes[1]) as second:
        other = Client(second, verbose=False)
        assert [d["id"] for d in other.predict(api_name="/documents")] == ["docs/hue.txt"]
        with chromium_page() as page:  # an upload is the browser's: the API offers none
            page.goto(first)
            page.get_by_role("tab", name="Tài liệu").click()
            page.set_input_files("input[type=file]", str(upload))
            page.get_by_role("button", name="Thêm vào chỉ mục").click()
            page.wait_for_selector("text=Đã thêm: vinh.txt", timeout=120_000)
        listed = [d["id"] for d in other.predict(api_name="/documents")]
        assert listed == ["data/uploads/vinh.txt", "docs/hue.txt"]  # no restart, no reload: the next call
        hits = other.predict("Vinh sông Lam", 2, api_name="/search")
        assert hits[0]["doc_id"] == "data/uploads/vinh.txt"
        assert not (homes[1] / "data" / "uploads").exists()  # the file stays with the app it was uploaded to
        with chromium_page() as page:  # removed in the second app: gone from the first
            page.goto(second)
            page.get_by_role("tab", name="Tài liệu").click()
            page.get_by_label("Tài liệu cần xoá").click()
            page.get_by_role("option", name="Thành phố Vinh (data/uploads/vinh.txt)").click()
            page.get_by_role("button", name="Xoá tài liệu").click()
            page.wait_for_selector("text=Đã xoá data/uploads/vinh.txt.", timeout=120_000)
        assert [d["id"] for d in Client(first, verbose=False).predict(api_name="/documents")] == ["docs/hue.txt"]

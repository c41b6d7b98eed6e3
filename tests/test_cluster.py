"""`rag index --ray`: embedding spread over a real Ray (started in-process on 2 CPUs, no dashboard) gives the same
chunks and vectors as the single process, stays on 127.0.0.1, and leaves no Ray process behind."""

from __future__ import annotations

import ipaddress
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import psutil
import pytest
from conftest import default_embedder, installed_model, real_env

from rag import indexing, store
from rag.config import CHECKOUT, Settings
from rag.progress import NoProgress

pytestmark = pytest.mark.real

SEEDS = CHECKOUT / "seeds"


class Watch(NoProgress):
    """Progress that looks, while Ray embeds, at every socket this process's children listen on."""

    def __init__(self, before: set[int]) -> None:
        self.before = before  # children started before Ray (the tests' PostgreSQL, say) are not Ray's
        self.addresses: set[str] = set()
        self.ray_processes = 0

    def advance(self, n: int = 1) -> None:
        children = [c for c in psutil.Process().children(recursive=True) if c.pid not in self.before]
        self.ray_processes = max(self.ray_processes, len(children))
        for child in children:
            try:
                listening = [c for c in child.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN]
            except psutil.Error:
                continue
            self.addresses |= {c.laddr.ip for c in listening}


def loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    mapped = getattr(ip, "ipv4_mapped", None)  # "::ffff:127.0.0.1": a dual-stack socket on the IPv4 loopback
    return bool((mapped or ip).is_loopback)


def children() -> set[int]:
    return {p.pid for p in psutil.Process().children(recursive=True)}


def leftovers(before: set[int]) -> list[str]:
    return [p.name() for p in psutil.Process().children(recursive=True) if p.pid not in before and p.is_running()]


def test_embedding_on_ray_gives_the_single_process_index(real_settings: Settings, tmp_path: Path) -> None:
    installed_model(real_settings, "embedder")
    single = real_settings.model_copy(update={"index_dir": tmp_path / "single", "n_threads": 2})
    spread = single.model_copy(update={"index_dir": tmp_path / "ray"})
    embedder = default_embedder(single)
    indexing.update([SEEDS], embedder, single)
    before = children()
    watch = Watch(before)
    report = indexing.update([SEEDS], embedder, spread, progress=watch, ray="local")
    a, b = store.load(single.index_path), store.load(spread.index_path)
    assert report.embedded == len(a.chunks) > 0
    assert a.chunks == b.chunks and a.documents == b.documents and a.settings == b.settings
    np.testing.assert_allclose(a.vectors, b.vectors, atol=1e-5)  # one thread an actor, two in the process
    assert watch.ray_processes >= 3 and watch.addresses  # the GCS, the raylet, the workers
    assert all(loopback(a) for a in watch.addresses), watch.addresses
    assert leftovers(before) == []  # ray.shutdown stopped them all


def test_rag_index_ray_from_the_command_line_and_without_ray_installed(real_settings: Settings, tmp_path: Path) -> None:
    installed_model(real_settings, "embedder")
    env = real_env(real_settings, tmp_path) | {"RAG_RAY_WORKERS": "2"}
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("Tài liệu A\n\nVăn phòng Quốc hội có 25 đơn vị trực thuộc.", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "rag", "index", str(docs), "--ray"], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    assert "1 added" in done.stdout and "on Ray (2 workers)" in done.stderr
    hidden = tmp_path / "no-ray"  # a Python that cannot import ray: the message says what to install
    hidden.mkdir()
    (hidden / "ray.py").write_text("raise ImportError('no ray here')\n", encoding="utf-8")
    (docs / "b.txt").write_text("Tài liệu B\n\nMột văn bản khác.", encoding="utf-8")
    env["PYTHONPATH"] = os.pathsep.join([str(hidden), env.get("PYTHONPATH", "")])
    refused = subprocess.run(
        [sys.executable, "-m", "rag", "index", str(docs), "--ray"], env=env, capture_output=True, text=True, timeout=600
    )
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert "pip install 'rag-vi[cluster]'" in refused.stderr

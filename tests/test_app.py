from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from rag.config import CHECKOUT


def test_app_start_without_models_says_how_to_install_them(isolated: Path) -> None:
    env = {"RAG_HOME": str(isolated), "RAG_MANIFEST": str(CHECKOUT / "models" / "manifest.toml"), "PATH": "/usr/bin"}
    done = subprocess.run([sys.executable, str(CHECKOUT / "app.py")], capture_output=True, text=True, env=env,
                          cwd=isolated, timeout=120)  # fmt: skip
    assert done.returncode == 1
    assert "run `rag models install qwen2.5-coder-0.5b-instruct-q4_k_m`" in done.stderr
    assert "Traceback" not in done.stderr

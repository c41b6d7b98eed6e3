"""The package works as installed from its wheel, outside the checkout: nothing of `rag` needs eval/, bench/,
tests/ or the checkout's files.

The wheel is built from the checkout, installed into a fresh virtual environment in a temporary
folder, and its `rag` console script is run from another temporary folder (a home with no models/
of its own, so the manifest is the copy the wheel ships). The new environment gets the project's
dependencies from the test's own environment through a path file, so nothing is downloaded; the
checkout itself is not on its path.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from rag.config import CHECKOUT

pytestmark = pytest.mark.real  # it loads the installed default models


def run(command: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with the wheel installed; its bin/ folder."""
    root = tmp_path_factory.mktemp("wheel")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAG_", "PYTHON"))}
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(root / "dist"),
            str(CHECKOUT),
        ],
        root,
        env,
    )
    (wheel,) = (root / "dist").glob("rag_vi-*.whl")
    run([sys.executable, "-m", "venv", str(root / "venv")], root, env)
    venv_site = Path(
        run(
            [str(root / "venv" / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            root,
            env,
        ).stdout.strip()
    )
    (venv_site / "_project_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    run(
        [str(root / "venv" / "bin" / "python"), "-m", "pip", "install", "--no-deps", "--no-index", "-q", str(wheel)],
        root,
        env,
    )
    return root / "venv" / "bin"


def test_the_installed_package_is_the_wheels_not_the_checkouts(installed: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAG_", "PYTHON"))}
    where = run([str(installed / "python"), "-c", "import rag; print(rag.__file__)"], tmp_path, env).stdout.strip()
    assert Path(where).is_relative_to(installed.parent) and not Path(where).is_relative_to(CHECKOUT)


def test_the_console_script_indexes_and_answers_outside_the_checkout(installed: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAG_", "PYTHON"))}
    env |= {"RAG_MODELS_DIR": str(CHECKOUT / "models"), "RAG_N_THREADS": "2"}
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "cong-van.txt").write_text(
        "Công tác văn thư tháng 8\n\nTrong tháng 8/2023, Văn phòng Quốc hội đã tiếp nhận 30.087 công văn đến.",
        encoding="utf-8",
    )
    settings = run([str(installed / "rag"), "config"], tmp_path, env).stdout
    manifest = next(line for line in settings.splitlines() if line.startswith("RAG_MANIFEST"))
    assert str(installed.parent) in manifest  # no models/manifest.toml in this home: the wheel's own copy
    run([str(installed / "rag"), "index", "docs"], tmp_path, env)
    asked = run([str(installed / "rag"), "ask", "--json", "Tháng 8/2023 có bao nhiêu công văn đến?"], tmp_path, env)
    answer = json.loads(asked.stdout)
    assert answer["mode"] in {"generated", "extractive"} and "30.087" in answer["answer"]
    assert [c["doc"] for c in answer["citations"]] == ["cong-van.txt"]

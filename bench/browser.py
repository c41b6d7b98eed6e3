"""Debian's headless chromium driven by playwright (no browser download): what the browser benchmark and the
browser tests open pages with."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


class NoBrowserError(RuntimeError):
    """chromium is not installed."""


@contextmanager
def chromium_page() -> Iterator[Any]:
    """A fresh page of headless chromium; `NoBrowserError` saying how to get it when it is not installed."""
    from playwright.sync_api import sync_playwright

    binary = shutil.which("chromium")
    if binary is None:
        raise NoBrowserError("chromium is not installed; `make test` installs it (apt-get install chromium)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=binary, args=FLAGS)
        try:
            yield browser.new_page(viewport={"width": 1400, "height": 1000})
        finally:
            browser.close()

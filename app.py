"""The browser chat: `python app.py [--host 127.0.0.1] [--port 7860]`, the same as `rag serve` (what `make run` starts).

The app itself is `rag.ui.build_app(pipeline)`; this file only starts it, so the package
works without the checkout.
"""

from __future__ import annotations

import sys

from rag.cli import main as rag_main
from rag.ui import build_app

__all__ = ["build_app", "main"]


def main() -> int:
    return rag_main(["serve", *sys.argv[1:]])


if __name__ == "__main__":
    sys.exit(main())

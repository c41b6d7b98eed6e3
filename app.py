"""The browser chat's entry point: `python app.py` (what `make run` starts).

The chat itself (`build_app(pipeline) -> gr.Blocks`) arrives with the UI issue (#5);
answers are available from the command line (`rag ask`). Until then this entry point
does the start-up checks a real start does (settings, both models installed, the index
readable) and says plainly that there is nothing to serve yet. It loads no model and starts no server.
"""

from __future__ import annotations

import sys

from rag import index as store
from rag import models
from rag.cli import out, run_edge
from rag.config import load_settings
from rag.manifest import load_manifest


def start() -> int:
    settings = load_settings()
    manifest = load_manifest(settings.manifest_path)
    out.print(f"language model: {models.llm_path(settings, manifest)}")
    out.print(f"embedder:       {models.embedder_path(settings, manifest)}")
    index = store.load(settings.index_path)
    out.print(f"index:          {settings.index_path} ({len(index.documents)} documents, {len(index.chunks)} chunks)")
    out.print(
        'Models and index are ready; ask with `rag ask "câu hỏi"`. The browser chat has not landed yet (issue #5), '
        "so nothing is served on http://127.0.0.1:7860 yet."
    )
    return 0


def main() -> int:
    return run_edge(start)


if __name__ == "__main__":
    sys.exit(main())

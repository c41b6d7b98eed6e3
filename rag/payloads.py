"""The JSON forms that leave the process: `rag ask --json`, `rag search --json`, the HTTP API and the MCP tools.

One place, so the command line and the app can never disagree on a field. Plain dicts of
JSON types, built from the frozen dataclasses; nothing here reads them back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from rag.retrieve import Hit
from rag.types import Answer, Document


def answer_json(answer: Answer, id: str | int | None = None) -> dict[str, Any]:
    """The stable machine-readable form of an answer (README, "rag ask --json")."""
    t = answer.timings
    return {
        "id": id,
        "answer": answer.text,
        "mode": answer.mode,
        "citations": [
            {
                "n": c.n,
                "doc": c.doc,
                "title": c.title,
                "chunk_id": c.chunk_id,
                "text": c.text,
                "start": c.start,
                "end": c.end,
            }
            for c in answer.citations
        ],
        "timings": {
            "retrieval_ms": round(t.retrieval_ms, 1),
            "first_token_ms": round(t.first_token_ms, 1),
            "total_ms": round(t.total_ms, 1),
        },
    }


def hits_json(hits: list[Hit]) -> list[dict[str, Any]]:
    """Ranked passages: rank, fused score, dense cosine, BM25 score and the chunk's fields."""
    return [{"rank": rank, "score": h.score, "dense": h.dense, "lexical": h.lexical, **asdict(h.chunk)}
            for rank, h in enumerate(hits, 1)]  # fmt: skip


def documents_json(documents: list[Document], chunks: Mapping[str, int]) -> list[dict[str, Any]]:
    """The indexed documents, by id: title, date, source and how many chunks each has."""
    return [
        {"id": d.id, "title": d.title, "date": d.date, "source": d.source, "chunks": chunks.get(d.id, 0)}
        for d in sorted(documents, key=lambda d: d.id)
    ]

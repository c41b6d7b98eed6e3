"""What the command line prints: aligned tables, sizes for people, and an answer with its sources.

Two consoles, `out` (results, on stdout) and `err` (progress and messages, on stderr), so a
script can pipe the one and read the other. This module prints; it decides nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.console import Console

from rag.pipeline import Event
from rag.types import Answer, Draft

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)
LABELS = {
    "generated": "Mô hình viết; số, tên và từ đã đối chiếu với nguồn",
    "extractive": "Trích nguyên văn",
    "abstained": "Không có câu trả lời",
}


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Plain aligned columns: never cut to the terminal's width, so paths stay whole and greppable."""
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    for row in [headers, *rows]:
        out.print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip(), markup=False)


def human(n: float) -> str:
    """Bytes for people.

    >>> human(491400064)
    '491.4 MB'
    """
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")


def print_answer(events: Iterable[Event]) -> None:
    """The quote that stands if the model's words do not pass (at once), the model's words as they come, then the
    checked answer if it differs from them, then the sources."""
    streamed = []
    answer: Answer | None = None
    for event in events:
        if isinstance(event, Draft):
            out.print(f"[Bản nháp: trích nguyên văn] {event.text}", markup=False)
        elif isinstance(event, str):
            streamed.append(event)
            out.print(event, end="", markup=False)
        else:
            answer = event
    if answer is None:
        raise AssertionError("the stream ended without an answer")
    if answer.notice:
        err.print(answer.notice, markup=False)
    if streamed:
        out.print()
    if answer.mode != "generated" or answer.text != "".join(streamed).strip():
        out.print(f"\n[{LABELS[answer.mode]}]" if streamed else "", markup=False)
        out.print(answer.text, markup=False)
    sure = "không có câu trả lời đủ chắc" if answer.mode == "abstained" else f"độ tin cậy {answer.confidence:.0%}"
    err.print(f"({LABELS[answer.mode]}; {sure}: {answer.reason.text})", markup=False)
    if answer.citations:
        out.print("\nNguồn:")
        for c in answer.citations:
            out.print(f"[{c.n}] {c.title}{f' ({c.date})' if c.date else ''} — {c.doc}", markup=False)
            out.print(f"    “{c.text}”", markup=False)

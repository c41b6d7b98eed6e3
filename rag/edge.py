"""The error edge of every command (`rag`, `python -m eval`, `python -m bench`): one line, never a traceback.

A `RagError` is printed as `error: <message>` on stderr and becomes its exit code; an `OSError`
names the path; Ctrl+C says nothing was left half-written. The commands' work lives elsewhere;
this module only translates what reaches it.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.console import Console

from rag.errors import RagError

err = Console(stderr=True, highlight=False, soft_wrap=True)


def run_edge(command: Callable[[], int]) -> int:
    """Run an entry point: a `RagError` becomes one line on stderr and its exit code, never a traceback."""
    try:
        return int(command())
    except RagError as exc:
        err.print(f"error: {exc}", markup=False)
        return exc.exit_code
    except OSError as exc:  # a folder that is a file, no permission, disk full mid-write: say which path
        where = f" ({exc.filename})" if exc.filename else ""
        err.print(
            f"error: {exc.strerror or exc}{where}. Check the path and its permissions and free space.", markup=False
        )
        return 1
    except KeyboardInterrupt:
        err.print("interrupted; nothing was left half-written.")
        return 130

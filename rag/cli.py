"""The `rag` command line: `rag models list | install | verify`, `rag config`.

This is an edge: it reads argv and the environment (through `load_settings`), draws
progress, and turns a `RagError` into one line on stderr and an exit code, never a
traceback. The work itself lives in the modules it calls.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from rag import models
from rag.config import Settings, describe, load_settings
from rag.errors import RagError
from rag.manifest import Manifest, ModelEntry, load_manifest

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Plain aligned columns: never cut to the terminal's width, so paths stay whole and greppable."""
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    for row in [headers, *rows]:
        out.print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip(), markup=False)


def human(n: int) -> str:
    """Bytes for people.

    >>> human(491400064)
    '491.4 MB'
    """
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000  # type: ignore[assignment]
    raise AssertionError("unreachable")


class ConsoleProgress:
    """Progress bars on a terminal; one line a step otherwise (CI logs, pipes)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.bars: Progress | None = None
        self.task: TaskID | None = None

    def __enter__(self) -> ConsoleProgress:
        if self.console.is_terminal:
            self.bars = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                                 TransferSpeedColumn(), TimeRemainingColumn(), console=self.console)  # fmt: skip
            self.bars.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bars is not None:
            self.bars.stop()

    def step(self, label: str, total: int | None = None) -> None:
        if self.bars is None:
            self.console.print(f"… {label}")
            return
        if self.task is not None:
            self.bars.update(self.task, completed=self.bars.tasks[-1].total or 1, total=self.bars.tasks[-1].total or 1)
        self.task = self.bars.add_task(label, total=total)

    def advance(self, amount: int) -> None:
        if self.bars is not None and self.task is not None:
            self.bars.advance(self.task, amount)


def configured(settings: Settings, manifest: Manifest) -> list[ModelEntry]:
    """The manifest models the settings use (`RAG_LLM`, `RAG_EMBEDDER`), unless a local path replaces them."""
    chosen = []
    if settings.llm_path is None:
        chosen.append(manifest.get(settings.llm, "llm"))
    if settings.embedder_path is None:
        chosen.append(manifest.get(settings.embedder, "embedder"))
    return chosen


def cmd_models_list(args: argparse.Namespace) -> int:
    settings = load_settings()
    manifest = load_manifest(settings.manifest_path)
    rows = []
    for entry in manifest.models:
        path = settings.models_path / entry.path
        rows.append((entry.name, entry.kind, "yes" if entry.default else "", human(entry.size),
                     str(path) if path.exists() else "no", entry.licence.split(" (")[0]))  # fmt: skip
    print_table(("name", "kind", "default", "size", "installed", "licence"), rows)
    return 0


def cmd_models_install(args: argparse.Namespace) -> int:
    settings = load_settings()
    manifest = load_manifest(settings.manifest_path)
    if args.all:
        entries = list(manifest.models)
    elif args.defaults:
        entries = manifest.defaults()
    else:
        entries = [manifest.get(n) for n in args.names] or configured(settings, manifest)
    results = []
    with ConsoleProgress(err) as progress:
        for entry in entries:
            results.append(models.install(entry, settings.models_path, progress=progress, force=args.force))
    for status in results:
        verb = "installed" if status.state == "installed" else "already installed"
        out.print(f"{status.name}: {verb} at {status.path} ({human(status.size)})")
    return 0


def cmd_models_verify(args: argparse.Namespace) -> int:
    settings = load_settings()
    manifest = load_manifest(settings.manifest_path)
    required = [manifest.get(n) for n in args.names] or configured(settings, manifest)
    entries = required if args.names else list(manifest.models)
    failed = False
    for entry in entries:
        status = models.verify(entry, settings.models_path)
        if status.state == "missing" and entry not in required:
            out.print(f"{entry.name}: not installed (optional)")
            continue
        failed |= not status.ok
        mark = "OK " if status.ok else "FAIL"
        out.print(f"{mark} {entry.name}  {status.path}  {human(status.size)}  {status.detail}")
    if failed:
        err.print("error: some models are missing or damaged; see the lines above for how to repair them.")
    return 1 if failed else 0


def cmd_config(args: argparse.Namespace) -> int:
    settings = load_settings()
    print_table(("setting", "value", "description"), describe(settings))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rag", description="Offline question answering over Vietnamese documents.")
    sub = parser.add_subparsers(dest="command", required=True)

    models_p = sub.add_parser("models", help="list, install and verify the local models")
    msub = models_p.add_subparsers(dest="models_command", required=True)
    msub.add_parser("list", help="models in the manifest and whether they are installed").set_defaults(
        func=cmd_models_list
    )
    inst = msub.add_parser("install", help="install models (default: the configured RAG_LLM and RAG_EMBEDDER)")
    inst.add_argument("names", nargs="*", metavar="NAME", help="manifest model names")
    inst.add_argument("--all", action="store_true", help="install every model in the manifest")
    inst.add_argument(
        "--defaults", action="store_true", help="install the manifest's default models (the tests use them)"
    )
    inst.add_argument("--force", action="store_true", help="rebuild even if an intact copy is installed")
    inst.set_defaults(func=cmd_models_install)
    ver = msub.add_parser("verify", help="re-check installed models against their checksums")
    ver.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help="manifest model names (default: all installed; the configured ones must be there)",
    )
    ver.set_defaults(func=cmd_models_verify)

    sub.add_parser("config", help="print the effective settings").set_defaults(func=cmd_config)
    return parser


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


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_edge(lambda: args.func(args))


def main_exit() -> None:
    """Console-script entry point."""
    sys.exit(main())

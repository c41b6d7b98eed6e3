"""The `rag` command line: `rag models list | install | verify`, `rag index`, `rag search`, `rag ask`, `rag serve`,
`rag eval`, `rag config`.

This is an edge: it reads argv and the environment (through `load_settings`), draws
progress, and turns a `RagError` into one line on stderr and an exit code, never a
traceback. The work itself lives in the modules it calls.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError
from rich.console import Console

from rag import embed, indexing, models
from rag import index as store
from rag.config import Settings, describe, load_settings
from rag.embed import Embedder
from rag.errors import ConfigError, QuestionError, RagError
from rag.manifest import Manifest, ModelEntry, load_manifest
from rag.payloads import answer_json, hits_json
from rag.pipeline import Pipeline
from rag.progress import ConsoleProgress
from rag.retrieve import Retriever
from rag.text import fold

if TYPE_CHECKING:
    from rag.ui import Model  # the app (and gradio) is imported only by `rag serve`

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


def load_embedder(settings: Settings) -> Embedder:
    manifest = load_manifest(settings.manifest_path)
    path = models.embedder_path(settings, manifest)
    name = settings.embedder if settings.embedder_path is None else str(path)
    return embed.load(path, settings.n_threads, name, settings.embedder_backend)


def cmd_index(args: argparse.Namespace) -> int:
    settings = load_settings()
    paths = [Path(p) for p in args.paths] or [settings.home / "seeds"]
    embedder = load_embedder(settings)
    with ConsoleProgress(err) as progress:
        report = indexing.update(paths, embedder, settings, prune=args.prune, rebuild=args.rebuild, progress=progress)
    for skipped in report.skipped:
        err.print(f"skipped {skipped.path}: {skipped.reason}", markup=False)
    if report.rebuild_reason:
        out.print(f"rebuilt: {report.rebuild_reason}.", markup=False)
    rate = f" in {report.embed_seconds:.1f} s ({report.embedded / report.embed_seconds:.1f} chunks/s)" if (
        report.embedded and report.embed_seconds) else ""  # fmt: skip
    out.print(
        f"{len(report.added)} added, {len(report.changed)} changed, {len(report.unchanged)} unchanged, "
        f"{len(report.removed)} removed, {len(report.kept)} kept from earlier runs; "
        f"{report.embedded} chunks embedded{rate}; {report.total_chunks} chunks in {settings.index_path}"
        + ("" if report.written else " (nothing to write: the index is current)"),
        markup=False,
    )
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    settings = load_settings()
    index = store.load(settings.index_path)
    retriever = Retriever(index, load_embedder(settings), settings.dense_weight, settings.fusion)
    hits = retriever.search(args.query, k=args.k or settings.top_k, doc_ids=args.doc or None, diversity=args.mmr)
    if args.json:
        out.print_json(data=hits_json(hits))
        return 0
    if not hits:
        out.print("no matching passages.")
    for rank, hit in enumerate(hits, 1):
        c = hit.chunk
        out.print(f"{rank}. [{hit.score:.3f} | dense {hit.dense:.3f} | bm25 {hit.lexical:.2f}] {c.title}"
                  f"{f' ({c.date})' if c.date else ''} — {c.doc_id}:{c.start}-{c.end}", markup=False)  # fmt: skip
        out.print(f"   {c.text}", markup=False)
    return 0


class AskLine(BaseModel):
    """One line of `rag ask --jsonl` input."""

    model_config = ConfigDict(extra="ignore")
    id: str | int | None = None
    question: str
    history: list[Turn] = []


class Turn(BaseModel):
    role: Literal["user", "assistant"]
    content: str


AskLine.model_rebuild()


def print_answer(pipeline: Pipeline, question: str) -> None:
    """Stream the model's draft, then the checked answer if it differs, then the sources."""
    streamed = []
    for event in pipeline.stream(question):
        if isinstance(event, str):
            streamed.append(event)
            out.print(event, end="", markup=False)
            continue
        answer = event
    if answer.notice:
        err.print(answer.notice, markup=False)
    if streamed:
        out.print()
    if answer.mode != "generated" or answer.text != "".join(streamed).strip():
        label = {"generated": "Đã kiểm chứng", "extractive": "Không kiểm chứng được; trích nguyên văn",
                 "abstained": "Không có câu trả lời"}[answer.mode]  # fmt: skip
        out.print(f"\n[{label}]" if streamed else "", markup=False)
        out.print(answer.text, markup=False)
    if answer.citations:
        out.print("\nNguồn:")
        for c in answer.citations:
            out.print(f"[{c.n}] {c.title}{f' ({c.date})' if c.date else ''} — {c.doc}", markup=False)
            out.print(f"    “{c.text}”", markup=False)


def cmd_ask(args: argparse.Namespace) -> int:
    settings = load_settings()
    if not args.jsonl and not fold(args.question or ""):
        raise QuestionError('the question is empty; ask one: rag ask "câu hỏi".')
    err.print("loading the index and the models…")
    pipeline = Pipeline.load(settings)
    if args.json:
        out.print_json(data=answer_json(pipeline.ask(args.question)))
    elif args.jsonl:
        ask_lines(pipeline, sys.stdin.buffer)
    else:
        print_answer(pipeline, args.question)
    return 0


def ask_lines(pipeline: Pipeline, lines: Iterable[bytes]) -> None:
    """`--jsonl`: one answer line per input line; a bad line gets an `error` line (with its id when it has one)
    and the rest go on."""
    for number, raw in enumerate(lines, 1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            row: dict[str, Any] = {"id": None, "line": number, "error": "the line is not UTF-8 text"}
        else:
            if not line.strip():
                continue
            row = ask_line(pipeline, line, number)
        sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
        sys.stdout.flush()


def ask_line(pipeline: Pipeline, line: str, number: int) -> dict[str, Any]:
    try:
        item = AskLine.model_validate_json(line)
    except ValidationError as exc:
        problem = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'line'}: {e['msg']}" for e in exc.errors())
        return {"id": line_id(line), "line": number, "error": f"not a question object ({problem})"}
    try:
        history = [(t.role, t.content) for t in item.history]
        return answer_json(pipeline.ask(item.question, history), item.id)
    except RagError as exc:  # an empty question, a language model server gone: this line only
        return {"id": item.id, "line": number, "error": str(exc)}


def line_id(line: str) -> Any:
    """The `id` of a line that is JSON but not a valid question object, so a script can match the error."""
    try:
        data = json.loads(line)
    except ValueError:
        return None
    return data.get("id") if isinstance(data, dict) and isinstance(data.get("id"), str | int) else None


def installed_llms(settings: Settings, manifest: Manifest) -> list[Model]:
    """The language models the app can switch between: the manifest's installed ones (size checked), or the own one."""
    from rag.generate import LlamaGenerator
    from rag.ui import Model

    if settings.llm_url is not None:
        return []  # a server's model is the server's business

    def model(path: Path, name: str) -> Model:
        return Model(name, lambda: LlamaGenerator.load(path, settings.n_ctx, settings.n_threads, name=name))

    if settings.llm_path is not None:
        path = models.llm_path(settings, manifest)
        return [model(path, path.stem)]
    found = []
    for entry in manifest.models:
        path = settings.models_path / entry.path
        if entry.kind == "llm" and path.is_file() and path.stat().st_size == entry.size:
            found.append(model(path, entry.name))
    return found


def port_free(host: str, port: int) -> None:
    """A `ConfigError` naming the fix when host:port cannot be bound (in use, or not an address of this machine)."""
    import socket

    try:
        with socket.create_server((host, port)):
            pass
    except OSError as exc:
        raise ConfigError(
            f"cannot serve on {host}:{port} ({exc.strerror or exc}); choose another --port or --host."
        ) from None


def cmd_serve(args: argparse.Namespace) -> int:
    """The browser chat and the HTTP/MCP API (what `python app.py` starts)."""
    import ipaddress

    from rag.library import Library
    from rag.ui import build_app, serve

    settings = load_settings()
    manifest = load_manifest(settings.manifest_path)
    try:
        loopback = ipaddress.ip_address(args.host).is_loopback
    except ValueError:
        loopback = args.host == "localhost"
    if not loopback:
        err.print(
            f"warning: serving on {args.host}, so other machines can reach the app and your documents"
            + ("." if settings.auth else "; set RAG_AUTH=user:password to require a login."),
            markup=False,
        )
    port_free(args.host, args.port)  # before seconds of model loading
    started = time.perf_counter()
    pipeline = Pipeline.load(settings)
    library = Library(settings, pipeline.retriever)
    app = build_app(pipeline, library, installed_llms(settings, manifest))
    try:
        url = serve(app, args.host, args.port, settings.auth, settings.max_upload_mb, block=False)
    except OSError as exc:  # taken in the meantime, or an address this machine does not have
        raise ConfigError(
            f"cannot serve on {args.host}:{args.port} ({exc}); choose another --port or --host."
        ) from None
    ready = time.perf_counter() - started
    out.print(
        f"ready in {ready:.1f} s: {url} (API: {url}?view=api; MCP: {url}gradio_api/mcp/; Ctrl+C stops)", markup=False
    )
    try:
        app.block_thread()
    finally:
        app.close()
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    try:
        from eval.score import main as evaluate
    except ImportError:
        raise ConfigError("`rag eval` runs from a checkout (it needs eval/); run it there.") from None
    return evaluate(args.options)


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

    idx = sub.add_parser("index", help="index documents (incremental: only what changed is embedded)")
    idx.add_argument("paths", nargs="*", metavar="PATH", help="files or folders (default: seeds/)")
    idx.add_argument("--prune", action="store_true", help="drop indexed documents that are not under PATH any more")
    idx.add_argument("--rebuild", action="store_true", help="embed everything again, ignoring the current index")
    idx.set_defaults(func=cmd_index)

    search = sub.add_parser("search", help="print the passages that best match a question")
    search.add_argument("query")
    search.add_argument("-k", type=int, default=None, help="how many passages (default: RAG_TOP_K)")
    search.add_argument("--doc", action="append", metavar="DOC_ID", help="only this document (repeatable)")
    search.add_argument("--mmr", type=float, default=None, metavar="DIVERSITY", help="0..1: prefer varied passages")
    search.add_argument("--json", action="store_true", help="machine-readable output")
    search.set_defaults(func=cmd_search)

    ask = sub.add_parser("ask", help="answer a question from the indexed documents, with sources")
    ask.add_argument("question", nargs="?", help="the question (in Vietnamese)")
    how = ask.add_mutually_exclusive_group()
    how.add_argument("--json", action="store_true", help="print one JSON object instead of streaming")
    how.add_argument(
        "--jsonl",
        action="store_true",
        help='read {"id", "question", "history"} lines from standard input, write one JSON answer per line',
    )
    ask.set_defaults(func=cmd_ask)

    ev = sub.add_parser("eval", help="score the answers on a question set (same as python -m eval)", add_help=False)
    ev.add_argument("options", nargs=argparse.REMAINDER, help="python -m eval's options (--help lists them)")
    ev.set_defaults(func=cmd_eval)

    srv = sub.add_parser("serve", help="the browser chat and the HTTP/MCP API (Gradio)")
    srv.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    srv.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    srv.set_defaults(func=cmd_serve)

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
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["eval"]:  # its options belong to python -m eval: argparse's REMAINDER drops leading ones
        args = argparse.Namespace(func=cmd_eval, options=argv[1:])
    else:
        args = build_parser().parse_args(argv)
    return run_edge(lambda: args.func(args))


def main_exit() -> None:
    """Console-script entry point."""
    sys.exit(main())

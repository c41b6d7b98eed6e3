"""The `rag` command line: `rag models list | install | verify`, `rag index`, `rag search`, `rag ask`,
`rag serve`, `rag config`.

This is an edge: it reads argv and the environment (through `load_settings`), draws progress,
and hands errors to `rag.edge.run_edge` (one line on stderr and an exit code, never a
traceback). The work itself lives in the modules it calls; what it prints is `rag.console`,
the JSONL protocol `rag.jsonl`.
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path

from rag import cpu, embed, indexing, installed, models
from rag.answer import require_question
from rag.config import Settings, describe, load_settings, markdown
from rag.console import err, human, out, print_answer, print_table
from rag.edge import run_edge
from rag.errors import ConfigError, GeneratorError, InputError
from rag.jsonl import ask_lines
from rag.manifest import Manifest, ModelEntry, load_manifest
from rag.payloads import answer_json, hits_json
from rag.pipeline import Pipeline
from rag.progress import ConsoleProgress
from rag.retrieve import Retriever
from rag.storage import open_store


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
        rows.append(
            (
                entry.name,
                entry.kind,
                "yes" if entry.default else "",
                human(entry.size),
                str(path) if path.exists() else "no",
                entry.licence.split(" (")[0],
            )
        )
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
    failed, sound = False, set()
    for entry in entries:
        status = models.verify(entry, settings.models_path)
        sound |= {entry.name} if status.ok else set()
        if status.state == "missing" and entry not in required:
            out.print(f"{entry.name}: not installed (optional)")
            continue
        failed |= not status.ok
        mark = "OK " if status.ok else "FAIL"
        out.print(f"{mark} {entry.name}  {status.path}  {human(status.size)}  {status.detail}")
    try:
        cpu.check_build(cpu.recorded_build(), cpu.cpu_flags())
        out.print(f"OK  {cpu.kernels()}", markup=False)
    except GeneratorError as exc:
        failed = True
        out.print(f"FAIL {exc}", markup=False)
    else:
        llm = next((e for e in required if e.kind == "llm" and e.name in sound), None)
        if llm is not None and settings.llm_url is None:  # llama.cpp writes with it here, in a process of its own
            trouble = cpu.runs(settings.models_path / llm.path)
            failed |= trouble is not None
            out.print(
                f"FAIL {trouble}" if trouble else f"OK  llama.cpp writes with {llm.name} on this CPU", markup=False
            )
    if failed:
        err.print(
            "error: some models are missing or damaged, or llama.cpp cannot run on this CPU; "
            "see the lines above for the fix."
        )
    return 1 if failed else 0


def cmd_index(args: argparse.Namespace) -> int:
    settings = load_settings()
    if args.to_database:
        if args.paths or args.ray:
            raise InputError("--to-database copies the index folder as it is: give no PATH and no --ray with it.")
        with ConsoleProgress(err) as progress:
            copied = indexing.copy_to_database(settings, args.to_database, progress)
        out.print(
            f"copied {copied.documents} documents and {copied.chunks} chunks from {settings.index_path} "
            f"to {copied.where} in {copied.seconds:.1f} s (nothing embedded)",
            markup=False,
        )
        return 0
    paths = [Path(p) for p in args.paths] or [settings.home / "seeds"]
    embedder = embed.from_settings(settings)
    with ConsoleProgress(err) as progress:
        report = indexing.update(
            paths,
            embedder,
            settings,
            prune=args.prune,
            rebuild=args.rebuild,
            progress=progress,
            restore=args.restore,
            ray=args.ray,
        )
    for skipped in report.skipped:
        err.print(f"skipped {skipped.path}: {skipped.reason}", markup=False)
    if report.withheld:
        err.print(
            f"left out {len(report.withheld)} document(s) removed from the index earlier "
            f"({', '.join(report.withheld)}); `rag index --restore` brings them back",
            markup=False,
        )
    if report.restored:
        out.print(f"restored {len(report.restored)} document(s) removed earlier: {', '.join(report.restored)}")
    if report.ocr_pages:
        out.print(
            f"OCR: {report.ocr_pages} pages in {report.ocr_seconds:.1f} s "
            f"({report.ocr_pages / max(report.ocr_seconds, 1e-9):.2f} pages/s)",
            markup=False,
        )
    if report.rebuild_reason:
        out.print(f"rebuilt: {report.rebuild_reason}.", markup=False)
    rate = (
        f" in {report.embed_seconds:.1f} s ({report.embedded / report.embed_seconds:.1f} chunks/s)"
        if (report.embedded and report.embed_seconds)
        else ""
    )
    out.print(
        f"{len(report.added)} added, {len(report.changed)} changed, {len(report.unchanged)} unchanged, "
        f"{len(report.removed)} removed, {len(report.kept)} kept from earlier runs; "
        f"{report.embedded} chunks embedded{rate}; {report.total_chunks} chunks in {open_store(settings).where}"
        + ("" if report.written else " (nothing to write: the index is current)"),
        markup=False,
    )
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    settings = load_settings()
    index = open_store(settings).load()
    retriever = Retriever(index, embed.from_settings(settings), settings.dense_weight, settings.fusion)
    hits = retriever.search(args.query, k=args.k or settings.top_k, doc_ids=args.doc or None, diversity=args.mmr)
    if args.json:
        out.print_json(data=hits_json(hits))
        return 0
    if not hits:
        out.print("no matching passages.")
    for rank, hit in enumerate(hits, 1):
        c = hit.chunk
        out.print(
            f"{rank}. [{hit.score:.3f} | dense {hit.dense:.3f} | bm25 {hit.lexical:.2f}] {c.title}"
            f"{f' ({c.date})' if c.date else ''} — {c.doc_id}:{c.start}-{c.end}",
            markup=False,
        )
        out.print(f"   {c.text}", markup=False)
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    settings = load_settings()
    if not args.jsonl:
        require_question(args.question)  # before seconds of model loading
    err.print("loading the index and the models…")
    pipeline = Pipeline.load(settings)
    if args.json:
        out.print_json(data=answer_json(pipeline.ask(args.question)))
    elif args.jsonl:
        ask_lines(pipeline, sys.stdin.buffer)
    else:
        print_answer(pipeline.stream(args.question))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """The browser chat and the HTTP/MCP API (what `python app.py` starts)."""
    from rag.generate import LlamaGenerator
    from rag.library import Library
    from rag.openai_api import ChatAPI
    from rag.server import port_free, serve
    from rag.ui import Model, build_app

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
    choices = [
        Model(m.name, partial(LlamaGenerator.from_settings, settings, m.path, m.name))
        for m in installed.installed_llms(settings, manifest)
    ]
    app = build_app(pipeline, library, choices)
    try:
        url = serve(
            app,
            args.host,
            args.port,
            settings.auth,
            settings.max_upload_mb,
            block=False,
            hosts=settings.host_names,
            origins=settings.origin_names,
            api=ChatAPI(
                pipeline,
                collection=settings.collection,
                auth=settings.auth,
                key=settings.api_key,
                wait_s=settings.api_wait_s,
            ),
        )
    except OSError as exc:  # taken in the meantime, or an address this machine does not have
        raise ConfigError(
            f"cannot serve on {args.host}:{args.port} ({exc}); choose another --port or --host."
        ) from None
    ready = time.perf_counter() - started
    out.print(
        f"ready in {ready:.1f} s: {url} (API: {url}?view=api; MCP: {url}gradio_api/mcp/; "
        f"OpenAI-compatible: {url}v1, model {settings.collection}; Ctrl+C stops)",
        markup=False,
    )
    try:
        app.block_thread()
    finally:
        app.close()
    return 0


def cmd_config(args: argparse.Namespace) -> int:
    if args.markdown:
        sys.stdout.write(markdown())
        return 0
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
    idx.add_argument("--rebuild", action="store_true", help="read and embed everything again (scans are OCR'd again)")
    idx.add_argument(
        "--restore", action="store_true", help="index again the documents under PATH that were removed on purpose"
    )
    idx.add_argument(
        "--to-database",
        metavar="URL",
        help="copy the index folder (RAG_INDEX_DIR) into PostgreSQL with pgvector at URL, without embedding again",
    )
    idx.add_argument(
        "--ray",
        nargs="?",
        const="local",
        metavar="ADDRESS",
        help="embed on a Ray cluster (pip install 'rag-vi[cluster]'): ADDRESS of its head, e.g. 10.0.0.5:6379; "
        "alone, a Ray started in this process on this machine's cores",
    )
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

    srv = sub.add_parser("serve", help="the browser chat and the HTTP/MCP API (Gradio)")
    srv.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    srv.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    srv.set_defaults(func=cmd_serve)

    config = sub.add_parser("config", help="print the effective settings")
    config.add_argument("--markdown", action="store_true", help="the settings' defaults as a Markdown table (docs)")
    config.set_defaults(func=cmd_config)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    return run_edge(lambda: args.func(args))


def main_exit() -> None:
    """Console-script entry point."""
    sys.exit(main())

"""Serving the app: check the address first, then launch Gradio on it behind `rag.guard` (queue, optional
login, MCP tools answering JSON), with the OpenAI-compatible endpoint (`rag.openai_api`) beside it under /v1.

`port_free` is the cheap check made before seconds of model loading; `serve` launches an app
`rag.ui.build_app` made. This module knows nothing of what the app shows.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Sequence
from typing import Any

import gradio as gr
from starlette.middleware import Middleware

from rag.errors import ConfigError
from rag.guard import ASGIApp, Guard, Receive, Scope, Send, allowed_hosts
from rag.view import CSS


def port_free(host: str, port: int) -> None:
    """A `ConfigError` naming the fix when host:port cannot be bound (in use, or not an address of this machine)."""
    try:
        with socket.create_server((host, port)):
            pass
    except OSError as exc:
        raise ConfigError(
            f"cannot serve on {host}:{port} ({exc.strerror or exc}); choose another --port or --host."
        ) from None


def serve(
    app: gr.Blocks,
    host: str = "127.0.0.1",
    port: int = 7860,
    auth: str | None = None,
    max_upload_mb: float = 20,
    block: bool = True,
    hosts: Sequence[str] = (),
    origins: Sequence[str] = (),
    api: ASGIApp | None = None,
) -> str:
    """Launch on host:port (no share link; MCP tools at /gradio_api/mcp/ unless a login is asked for); the local URL.

    `hosts` and `origins` are allowed besides the loopback names, `host` and the app's own page (`rag.guard`).
    Gradio's MCP server cannot pass a login on to the app (its tool calls are refused) while its routes answer
    without one, so with `auth` there is no MCP server at all. `api` answers the paths under /v1, behind the same
    guard (it checks its own login: Gradio's does not reach it).
    """
    login = tuple(auth.split(":", 1)) if auth else None
    app.queue(default_concurrency_limit=1, max_size=256)
    guard = Middleware(
        Guard,
        hosts=allowed_hosts(host, hosts),
        port=port,
        origins=origins,
        fns=lambda: app.fns,
    )
    beside = [Middleware(Beside, prefix="/v1", other=api)] if api is not None else []
    _, url, _ = app.launch(
        app_kwargs={"middleware": [guard, *beside]},
        server_name=host,
        server_port=port,
        share=False,
        auth=login,  # type: ignore[arg-type]
        max_file_size=int(max_upload_mb * 1024 * 1024),  # bytes: Gradio reads only whole numbers in "0.5mb"
        mcp_server=login is None,
        show_error=True,
        prevent_thread_lock=not block,
        quiet=True,
        css=CSS,
        ssr_mode=False,
        pwa=False,
    )
    if login is None:
        json_tool_results(app)
    return str(url)


class Beside:
    """ASGI middleware: requests for `prefix` and the paths under it go to `other`, all others to the app."""

    def __init__(self, app: ASGIApp, *, prefix: str, other: ASGIApp) -> None:
        self.app, self.prefix, self.other = app, prefix.rstrip("/"), other

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path == self.prefix or path.startswith(self.prefix + "/"):
            await self.other(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def json_tool_results(app: gr.Blocks) -> None:
    """Make the MCP tools answer JSON: the text of a result that is a dict or a list is that value as JSON (Gradio
    writes Python's repr), and a tool call's structured content is the value itself (an object; a list is
    `{"result": [...]}`), so an agent reads what `/ask` returns over HTTP."""
    from mcp import types

    server: Any = app.mcp_server_obj  # Gradio's MCP server: its results are made here
    if server is None:
        return
    plain = server.postprocess_output_data

    def as_json(data: Any, root_url: str) -> list[Any]:
        texts = [o for o in data if isinstance(o, dict | list)]
        if len(texts) != len(data):
            return list(plain(data, root_url))
        return [types.TextContent(type="text", text=json.dumps(o, ensure_ascii=False)) for o in texts]

    server.postprocess_output_data = as_json
    handlers = server.mcp_server.request_handlers
    call = handlers[types.CallToolRequest]

    async def structured(request: types.CallToolRequest) -> types.ServerResult:
        result = await call(request)
        tool = result.root
        if isinstance(tool, types.CallToolResult) and not tool.isError and len(tool.content) == 1:
            text = tool.content[0]
            try:
                value = json.loads(text.text) if isinstance(text, types.TextContent) else None
            except ValueError:
                value = None
            if isinstance(value, dict | list):
                tool.structuredContent = value if isinstance(value, dict) else {"result": value}
        return result

    handlers[types.CallToolRequest] = structured

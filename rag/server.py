"""Serving the app: check the address first, then launch Gradio on it (queue, optional login, MCP).

`port_free` is the cheap check made before seconds of model loading; `serve` launches an app
`rag.ui.build_app` made. This module knows nothing of what the app shows.
"""

from __future__ import annotations

import socket

import gradio as gr

from rag.errors import ConfigError
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
) -> str:
    """Launch on host:port (no share link; MCP tools at /gradio_api/mcp/ unless a login is asked for); the local URL.

    Gradio's MCP server cannot pass a login on to the app (its tool calls are refused) while its routes answer
    without one, so with `auth` there is no MCP server at all.
    """
    login = tuple(auth.split(":", 1)) if auth else None
    app.queue(default_concurrency_limit=1, max_size=256)
    _, url, _ = app.launch(
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
    return str(url)

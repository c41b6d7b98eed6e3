"""What stands between the network and the app: an ASGI middleware that refuses, before Gradio sees a request,
what a web page or a stranger must not be able to do.

- **Host.** A request whose `Host` is not a name this server was started for is refused (421):
  by default the loopback names and the `--host` given (with every name and address of the
  machine when it listens on all interfaces), plus `RAG_ALLOWED_HOSTS`. This is what stops DNS
  rebinding: a page on `evil.example` that re-binds its name to 127.0.0.1 still sends
  `Host: evil.example`.
- **Origin.** A request a browser sends from a page of another origin (its `Origin` is not
  this server's own scheme, allowed host and port, nor in `RAG_ALLOWED_ORIGINS`) is refused
  (403), whatever Gradio's CORS headers would have said. A cross-site form post (an upload,
  which CORS does not stop) is refused the same way.
- **The page's own handlers.** The chat's and the documents tab's events (answering in the chat,
  uploading, removing a document, switching the model) are Gradio events like the API's, and
  Gradio runs any of them for anyone who names them over HTTP. The page's HTML answer sets a
  cookie (random for each start of the server, `HttpOnly`, `SameSite=Strict`), and every call of
  an event that is not part of the public API (`/ask`, `/search`, `/documents`, MCP), and every
  upload, must carry it. Another page cannot read or send it; a program that first fetches the
  page can, so this keeps web pages out, not local programs: `RAG_AUTH` does that.
- **Headers.** Every response says it must not be framed (`X-Frame-Options: DENY`,
  `Content-Security-Policy: frame-ancestors 'none'`), must not be sniffed, and sends no referrer.

This module knows the app only through the functions Gradio registered (`Blocks.fns`).
"""

from __future__ import annotations

import contextlib
import inspect
import json
import secrets
from collections.abc import Awaitable, Callable, Collection, Iterable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
API = "/gradio_api"
# Routes that run an event: the function is named in the path or by `fn_index` in the JSON body.
RUNS = (f"{API}/queue/join", f"{API}/call/", f"{API}/run/", f"{API}/api/")
PAGE_ONLY = (f"{API}/upload", f"{API}/component_server")  # nothing of the public API uses these
OUTSIDE = "only the API's endpoints (/ask, /search, /documents) can be called from outside the app's page"
MAX_BODY = 8 << 20  # an event call's JSON body larger than this is not read: refused without the page's cookie
HEADERS = [
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]


def hostname(value: str) -> str | None:
    """The host name of a `Host` header or an origin's authority, lower-case, without port or brackets.

    >>> hostname("127.0.0.1:7860"), hostname("[::1]:80"), hostname("Evil.Example"), hostname("a b")
    ('127.0.0.1', '::1', 'evil.example', None)
    """
    try:
        parts = urlsplit("//" + value)
        name = parts.hostname
        parts.port  # noqa: B018  (raises on a port that is not a number)
    except ValueError:
        return None
    return name if name and " " not in name else None


def allowed_hosts(bind: str, extra: Iterable[str] = ()) -> frozenset[str]:
    """The names a request may address this server by: loopback, the address it binds (all of the machine's
    names and addresses when that is every interface), and `extra`."""
    import socket

    names = set(LOOPBACK) | {h.strip().lower().strip("[]") for h in extra if h.strip()}
    if bind in ("0.0.0.0", "::", ""):
        machine = socket.gethostname()
        names |= {machine.lower(), socket.getfqdn(machine).lower()}
        with contextlib.suppress(OSError):
            names |= {str(info[4][0]).lower() for info in socket.getaddrinfo(machine, None)}
    else:
        names.add(bind.lower().strip("[]"))
    return frozenset(names)


class Guard:
    """The middleware (see the module docstring); `fns` gives Gradio's registered functions by index."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        hosts: Collection[str],
        port: int,
        origins: Collection[str] = (),
        fns: Callable[[], dict[int, Any]],
    ) -> None:
        self.app, self.hosts, self.port, self.fns = app, frozenset(hosts), port, fns
        self.origins = frozenset(o.rstrip("/").lower() for o in origins)
        self.cookie = f"rag_page_{port}"
        self.token = secrets.token_urlsafe(32)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):  # lifespan: Gradio's MCP server starts there
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        why = self.refusal(headers)
        path, method = scope.get("path", ""), scope.get("method", "GET")
        if why is None and method == "POST" and not self.from_page(headers):
            if path.startswith(PAGE_ONLY):
                why = (403, "this route is for the app's own page; open the app in a browser (or use the API: /ask)")
            elif path.startswith(RUNS):
                body, receive = await _buffered(receive)
                call = self.public_call(path, body)
                if call is None:
                    why = (403, OUTSIDE)
                else:
                    missing, data = _complete(*call)
                    if missing:
                        why = (422, "; ".join(f"{name}: missing (a required argument)" for name in missing))
                    elif data is not call[1]:  # defaults filled in
                        receive = _replaying(json.dumps(data).encode(), receive)
        if why is not None:
            await _refuse(scope, send, *why)
            return
        await self.app(scope, receive, self._headers(send, page=method == "GET" and path == "/"))

    def refusal(self, headers: dict[str, str]) -> tuple[int, str] | None:
        """(status, reason) when the request's Host or Origin is not allowed, else None."""
        host = hostname(headers.get("host", ""))
        if host is None or ("*" not in self.hosts and host not in self.hosts):
            return 421, "this server does not answer to that host name; add it to RAG_ALLOWED_HOSTS to allow it"
        origin = headers.get("origin")
        if origin is not None and not self.allowed_origin(origin):
            return 403, "requests from pages of other origins are refused; add it to RAG_ALLOWED_ORIGINS to allow it"
        return None

    def allowed_origin(self, origin: str) -> bool:
        origin = origin.strip().rstrip("/").lower()
        if origin in self.origins:
            return True
        try:
            parts = urlsplit(origin)
            port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
        except ValueError:
            return False
        return parts.scheme in ("http", "https") and (parts.hostname or "") in self.hosts and port == self.port

    def from_page(self, headers: dict[str, str]) -> bool:
        """Whether the request carries this start's page cookie."""
        for pair in headers.get("cookie", "").split(";"):
            name, _, value = pair.strip().partition("=")
            if name == self.cookie and secrets.compare_digest(value, self.token):
                return True
        return False

    def public_call(self, path: str, body: bytes | None) -> tuple[Any, dict[str, Any]] | None:
        """The function of the public API an event call names (by `fn_index` in its body, else by its path), with
        the call's JSON body; None when it names another or cannot be read."""
        if body is None:
            return None
        try:
            data = json.loads(body) if body.strip() else {}
        except ValueError:
            return None
        if not isinstance(data, dict):
            return None
        fns = self.fns()
        index = data.get("fn_index")
        if index is not None:
            fn = fns.get(index) if isinstance(index, int) and not isinstance(index, bool) else None
        else:
            name = path.rstrip("/").rsplit("/", 1)[-1]
            fn = next((f for f in fns.values() if getattr(f, "api_name", None) == name), None)
        return (fn, data) if fn is not None and getattr(fn, "api_visibility", "private") == "public" else None

    def _headers(self, send: Send, page: bool) -> Send:
        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = list(HEADERS)
                if page:
                    cookie = f"{self.cookie}={self.token}; Path=/; HttpOnly; SameSite=Strict"
                    extra.append((b"set-cookie", cookie.encode("latin-1")))
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        return sending


async def _buffered(receive: Receive) -> tuple[bytes | None, Receive]:
    """The request body (None when it is larger than `MAX_BODY`), and a `receive` that hands it on again."""
    chunks, size, more = [], 0, True
    messages: list[Message] = []
    while more:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        more = message.get("more_body", False)
        if size > MAX_BODY:
            break
    body = b"".join(chunks) if size <= MAX_BODY and not more else None

    async def replay() -> Message:
        return messages.pop(0) if messages else await receive()

    return body, replay


def _complete(fn: Any, call: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    """(the required arguments a call leaves out, the call with the defaults of the optional ones it leaves out).

    Gradio answers a call with too few values with a message about its own objects; this answers in the API's
    terms, and lets a caller leave out what has a default, as `gradio_client` does.
    """
    values = call.get("data", [])
    if not isinstance(values, list) or getattr(fn, "fn", None) is None:
        return [], call
    parameters = [p for p in inspect.signature(fn.fn).parameters.values() if p.kind is p.POSITIONAL_OR_KEYWORD]
    rest = parameters[len(values) : len(fn.inputs)]
    if not rest:
        return [], call
    missing = [p.name for p in rest if p.default is p.empty]
    return missing, call | {"data": [*values, *(p.default for p in rest)]}


def _replaying(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands on `body` as the whole request, then whatever comes after it (a disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _refuse(scope: Scope, send: Send, status: int, reason: str) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008})
        return
    error: object = reason
    if scope.get("path", "").startswith("/v1/"):  # the OpenAI-compatible endpoint answers errors in OpenAI's shape
        error = {"message": reason, "type": "invalid_request_error", "param": None, "code": None}
    body = json.dumps({"error": error}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *HEADERS]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})

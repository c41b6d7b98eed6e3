"""The OpenAI-compatible chat endpoint, on the app's own port: `GET /v1/models` and `POST /v1/chat/completions`
(streamed as server-sent events with `"stream": true`), so Open WebUI, LibreChat, editors and the `openai`
libraries can ask the documents.

- The one model listed is the document collection (`RAG_COLLECTION`); a request names it.
- The last message is the question (the user's), the earlier user and assistant messages are the history, read as
  `/ask` reads them. System messages are not used: the app's own prompt and checks decide what is said.
- The reply's content is the checked answer (the same `Answer` as `/ask`) with its `[n]` markers, its mode, and its
  sources (title, file, quoted sentence), as Markdown that makes no link and no image; the structured answer
  (`payloads.answer_json`) comes along as the extra field `rag`. A stream carries the same content: an OpenAI client
  cannot take back words it was sent, so the model's unchecked draft is never sent.
- Login: `RAG_API_KEY` as a bearer key; with `RAG_AUTH`, its `user:password` as a bearer key or HTTP Basic.
- One question at a time on the one local model (`Pipeline.busy`, which the chat holds too): a request that waits
  longer than `RAG_API_WAIT_S` is answered 503, and API requests wait their turn in order of arrival.
- Errors in OpenAI's shape, `{"error": {"message", "type", "param", "code"}}`, never a traceback.

It knows the pipeline and the JSON forms, nothing of Gradio; `rag.server` puts it beside the app.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import re
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any, Literal

import anyio.to_thread
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from rag.answer import require_question
from rag.errors import BusyError, GeneratorError, InputError, QuestionError, RagError
from rag.payloads import AskIn, answer_json, checked, problems
from rag.pipeline import Pipeline
from rag.types import Answer, Turn
from rag.view import MODES

PREFIX = "/v1"
MAX_BODY = 8 << 20  # a conversation larger than this is refused (413) before it is read
SOURCES = "Nguồn:"


class ApiError(Exception):
    """A request answered with an error in OpenAI's shape."""

    def __init__(
        self, status: int, message: str, kind: str = "invalid_request_error", code: str | None = None, **extra: Any
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.kind, self.code = status, message, kind, code
        self.param: str | None = extra.pop("param", None)
        self.headers: dict[str, str] = extra.pop("headers", {})

    def response(self) -> JSONResponse:
        error = {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}
        return JSONResponse({"error": error}, status_code=self.status, headers=self.headers)


class Part(BaseModel):
    """One part of a message's content: {"type": "text", "text": …} (images and files are refused)."""

    model_config = ConfigDict(strict=True, extra="allow")
    type: str
    text: str = ""


class ChatMessage(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[Part] | None = None

    def text(self) -> str:
        if self.content is None or isinstance(self.content, str):
            return self.content or ""
        other = sorted({p.type for p in self.content} - {"text"})
        if other:
            raise ApiError(400, f"messages: only text can be asked about, not {', '.join(other)}", param="messages")
        return " ".join(p.text for p in self.content)


class StreamOptions(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")
    include_usage: bool = False


class ChatIn(BaseModel):
    """The request body of `/v1/chat/completions`; sampling options (temperature, max_tokens, …) are accepted and not
    used: the app's settings decide how its model answers."""

    model_config = ConfigDict(strict=True, extra="ignore")
    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: int = 1


def inert(text: str) -> str:
    r"""Text from a document or the model made unable to become a link, an image or HTML in a Markdown client, with
    as few backslashes as that takes (`[1]` stays as it is).

    >>> print(inert("![x](http://h/q) <b> [1] www.a.vn b@c.vn [r]: u"))
    !\[x]\(http\://h/q) \<b> [1] www\.a.vn b\@c.vn [r]\: u
    """
    text = text.replace("\\", "\\\\").replace("<", "\\<").replace("![", "!\\[")
    text = text.replace("](", "]\\(").replace("]:", "]\\:").replace("://", "\\://")
    text = re.sub(r"(?i)\b(www)\.", r"\1\\.", text)
    return re.sub(r"(?<=\w)@", r"\\@", text)


def reply_text(answer: Answer) -> str:
    """The reply's content: the answer, what it is (its mode), then its sources: title, date, file, quoted sentence."""
    parts = [inert(answer.text)]
    if answer.notice:
        parts.append(f"_{inert(answer.notice)}_")
    parts.append(f"*({MODES[answer.mode][0]})*")
    if answer.citations:
        lines = [
            f"- [{c.n}] {inert(c.title)}{f' ({inert(c.date)})' if c.date else ''} — {inert(c.doc)}: “{inert(c.text)}”"
            for c in answer.citations
        ]
        parts.append("\n".join([SOURCES, *lines]))
    return "\n\n".join(parts)


def answer_of(content: str) -> str:
    """What an earlier reply said, without the mode and sources `reply_text` added (the history is the words).

    >>> answer_of("Có 11 cây cầu [1].\\n\\n*(Trích nguyên văn)*\\n\\nNguồn:\\n- [1] Huế — hue.txt: “…”")
    'Có 11 cây cầu [1].'
    """
    cuts = [content.find(f"\n\n*({label})*") for label, _ in MODES.values()]
    found = [c for c in cuts if c >= 0]
    return content[: min(found)] if found else content


def conversation(messages: Sequence[ChatMessage]) -> tuple[str, list[dict[str, str]]]:
    """(the question, the history as `/ask` takes it): the last message must be the user's."""
    said = [m for m in messages if m.role in ("user", "assistant")]
    if not said or said[-1].role != "user" or messages[-1].role not in ("user", "system", "developer"):
        raise ApiError(400, "messages: the last message must be the user's question", param="messages")
    history = [{"role": m.role, "content": m.text() if m.role == "user" else answer_of(m.text())} for m in said[:-1]]
    return said[-1].text(), history


class ChatAPI:
    """The endpoint as an ASGI app (see the module docstring)."""

    def __init__(
        self,
        pipeline: Pipeline,
        *,
        collection: str = "rag-vi",
        auth: str | None = None,
        key: str | None = None,
        wait_s: float = 120,
    ) -> None:
        self.pipeline, self.collection, self.auth, self.wait_s = pipeline, collection, auth, wait_s
        self.keys = [k for k in (key, auth) if k]
        self.created = int(time.time())
        self.turn = asyncio.Lock()  # API requests wait for the model one behind another, first come first served
        self.app = Starlette(
            routes=[
                Route(f"{PREFIX}/models", self.models, methods=["GET"]),
                Route(f"{PREFIX}/chat/completions", self.chat, methods=["POST"]),
            ],
            exception_handlers={
                ApiError: _api_error,
                RagError: _rag_error,
                HTTPException: _http_error,
                Exception: _unexpected,
            },
        )

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)

    # --- the routes -----------------------------------------------------------------------------------------
    async def models(self, request: Request) -> Response:
        self.authorize(request)
        documents = self.pipeline.retriever.current().documents()
        model = {
            "id": self.collection,
            "object": "model",
            "created": self.created,
            "owned_by": "rag-vi",
            "documents": len(documents),
            "chunks": sum(n for _, n in documents),
        }
        return JSONResponse({"object": "list", "data": [model]})

    async def chat(self, request: Request) -> Response:
        self.authorize(request)
        asked = await self.read(request)
        question, history = conversation(asked.messages)
        try:
            require_question(question)  # before any wait for the model
            ask = checked(AskIn, question=question, history=history)  # as /ask reads them
        except RagError as exc:
            raise ApiError(400, str(exc), param="messages") from None
        answer = await self.answer(ask.question, [t.turn() for t in ask.history or []])
        made = {"id": f"chatcmpl-{uuid.uuid4().hex}", "created": int(time.time()), "model": self.collection}
        content, usage = reply_text(answer), _usage(answer)
        if not asked.stream:
            message = {"role": "assistant", "content": content, "refusal": None}
            choice = {"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}
            body = {
                **made,
                "object": "chat.completion",
                "choices": [choice],
                "usage": usage,
                "rag": answer_json(answer),
            }
            return JSONResponse(body)
        usage_too = asked.stream_options is not None and asked.stream_options.include_usage
        events = _events(made, content, answer_json(answer), usage if usage_too else None)
        return StreamingResponse(events, media_type="text/event-stream", headers={"cache-control": "no-cache"})

    # --- the steps ------------------------------------------------------------------------------------------
    def authorize(self, request: Request) -> None:
        """Nothing when no key is set or the request carries one; else a 401."""
        if not self.keys:
            return
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        value, given = value.strip(), None
        if scheme.lower() == "bearer":
            given = value
        elif scheme.lower() == "basic" and self.auth:
            try:
                given = base64.b64decode(value, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                given = None
        if given is not None and any(secrets.compare_digest(given.encode(), k.encode()) for k in self.keys):
            return
        raise ApiError(
            401,
            "a valid API key is needed: send Authorization: Bearer <RAG_API_KEY>"
            + (" (or the RAG_AUTH login, user:password)" if self.auth else ""),
            code="invalid_api_key",
            headers={"www-authenticate": 'Bearer realm="rag"'},
        )

    async def read(self, request: Request) -> ChatIn:
        body = bytearray()
        async for piece in request.stream():
            body += piece
            if len(body) > MAX_BODY:
                raise ApiError(413, f"the request is larger than {MAX_BODY >> 20} MB", code="request_too_large")
        try:
            asked = ChatIn.model_validate_json(bytes(body))
        except ValidationError as exc:
            found = problems(exc, whole="body")
            message = "; ".join(dict.fromkeys(f"{where}: {why}" for where, why in found))
            raise ApiError(400, message, param=found[0][0] if found and found[0][0] != "body" else None) from None
        if asked.model != self.collection:
            raise ApiError(
                404,
                f"The model {asked.model!r} does not exist: this server answers from the document collection "
                f"{self.collection!r} (GET {PREFIX}/models)",
                code="model_not_found",
                param="model",
            )
        if asked.n != 1:
            raise ApiError(400, "n: only one answer is given to a question (n = 1)", param="n")
        return asked

    async def answer(self, question: str, history: list[Turn]) -> Answer:
        """The pipeline's answer, once the model is free; a `BusyError` after `wait_s` of waiting."""
        loop = asyncio.get_running_loop()
        until = loop.time() + self.wait_s
        try:
            await asyncio.wait_for(self.turn.acquire(), timeout=self.wait_s)
        except TimeoutError:
            raise self.busy() from None
        try:
            return await anyio.to_thread.run_sync(self.ask, question, history, max(0.0, until - loop.time()))
        finally:
            self.turn.release()

    def ask(self, question: str, history: list[Turn], wait_s: float) -> Answer:
        """In a worker thread: take the model (the chat may hold it), answer, give it back."""
        if not self.pipeline.busy.acquire(timeout=wait_s):
            raise self.busy()
        try:
            return self.pipeline.ask(question, history)
        finally:
            self.pipeline.busy.release()

    def busy(self) -> BusyError:
        return BusyError(f"the model is answering other questions (waited {self.wait_s:g} s); try again in a moment")


def _usage(answer: Answer) -> dict[str, int]:
    """What the local model read and wrote for this answer (0 and 0 when it was not asked)."""
    t = answer.timings
    return {
        "prompt_tokens": t.prompt_tokens,
        "completion_tokens": t.generated_tokens,
        "total_tokens": t.prompt_tokens + t.generated_tokens,
    }


async def _events(
    made: dict[str, Any], content: str, rag: dict[str, Any], usage: dict[str, int] | None
) -> AsyncIterator[str]:
    """The reply as `chat.completion.chunk` events: the role, the content a paragraph at a time, the end with the
    structured answer, the usage when asked for, then `[DONE]`."""

    def event(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
        data = {**made, "object": "chat.completion.chunk", "choices": [choice], **extra}
        return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"

    yield event({"role": "assistant", "content": ""})
    paragraphs = content.split("\n\n")
    for i, paragraph in enumerate(paragraphs):
        yield event({"content": paragraph + ("\n\n" if i < len(paragraphs) - 1 else "")})
    yield event({}, "stop", rag=rag)
    if usage is not None:
        data = {**made, "object": "chat.completion.chunk", "choices": [], "usage": usage}
        yield f"data: {json.dumps(data)}\n\n"
    yield "data: [DONE]\n\n"


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return exc.response()


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    what = {
        404: f"no such endpoint: {request.url.path} (this server has {PREFIX}/models and {PREFIX}/chat/completions)"
    }
    message = what.get(exc.status_code, str(exc.detail))
    return ApiError(exc.status_code, message, headers=dict(exc.headers or {})).response()


async def _rag_error(request: Request, exc: Exception) -> Response:
    """A failure the user can act on, in its own words."""
    if isinstance(exc, BusyError):
        return ApiError(503, str(exc), "server_error", "model_busy", headers={"retry-after": "5"}).response()
    if isinstance(exc, InputError | QuestionError):
        return ApiError(400, str(exc)).response()
    if isinstance(exc, GeneratorError):
        return ApiError(500, str(exc), "server_error", "model_error").response()
    return ApiError(500, str(exc), "server_error").response()


async def _unexpected(request: Request, exc: Exception) -> Response:
    """A bug: a pointer to the server's log (Starlette writes the traceback there), never the traceback itself."""
    return ApiError(500, "the server failed to answer; its log says why", "server_error").response()

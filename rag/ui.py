"""The browser chat and the HTTP/MCP API: `build_app(pipeline)` wires `Handlers` into a Gradio app.

`Handlers` holds every function the app calls, as plain methods over an already-loaded
pipeline and library (tests call them directly); `build_app` only lays out components and
names the endpoints; `rag.server.serve` launches it (127.0.0.1, queue, optional login, MCP). Chat
history lives in each browser session's chat component and is passed in with every question,
never kept here, so two tabs never see each other's conversation. What the page shows of answers
is made in `rag.view` (escaped there); retrieval, prompts and checking live in the pipeline.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr
from pydantic import ValidationError

from rag.answer import require_question
from rag.errors import RagError
from rag.generate import Generator
from rag.library import UPLOAD_TYPES, Library
from rag.payloads import AskIn, SearchIn, answer_json, checked, documents_json, hits_json, read_history
from rag.pipeline import Pipeline
from rag.types import Answer, Draft, Turn
from rag.view import chat_text, draft_sources_html, draft_text, notes, plain, shown, sources_html

EXAMPLES = [  # about the seeds, each answered right by the default model in the evaluation
    "Trong năm 2020, Ủy ban Thường vụ Quốc hội đã ban hành bao nhiêu nghị quyết?",
    "Hội nghị Nghị sĩ trẻ toàn cầu do Quốc hội Việt Nam đăng cai diễn ra ở đâu?",
    "Trong tháng 8/2023, Văn phòng Quốc hội đã tiếp nhận và xử lý bao nhiêu đơn, thư?",
    "Tại Hội nghị tổng kết công tác năm 2020, ai là Tổng Thư ký Quốc hội, Chủ nhiệm Văn phòng Quốc hội?",
]
PROGRESS = gr.Progress()  # Gradio fills a handler's progress bar when it finds this default


@dataclass(frozen=True)
class Model:
    """A language model the settings panel offers: its name and how to load it."""

    name: str
    load: Callable[[], Generator]


class UiProgress:
    """`rag.models.Progress` drawn on a Gradio progress bar."""

    def __init__(self, progress: gr.Progress) -> None:
        self.progress, self.label, self.total, self.done, self.unit = progress, "", 0, 0, ""

    def step(self, label: str, total: int | None = None, unit: str = "B") -> None:
        self.label, self.total, self.done, self.unit = label, total or 0, 0, unit
        self.progress(0 if total else None, desc=label)

    def advance(self, amount: int) -> None:
        self.done += amount
        if self.total:
            self.progress((self.done, self.total), desc=self.label, unit=self.unit)


def cited(shown: Answer | Draft) -> set[str]:
    """The chunk ids of the passages an answer or a draft cites."""
    return {c.chunk_id for c in shown.citations}


def raise_for_user(exc: RagError) -> gr.Error:
    return gr.Error(str(exc), print_exception=False)


class Handlers:
    """Every function the app calls; `pipeline` and `library` are shared, history is passed in."""

    def __init__(self, pipeline: Pipeline, library: Library | None = None, models: Sequence[Model] = ()) -> None:
        self.pipeline, self.library, self.models = pipeline, library, {m.name: m for m in models}
        self._switch = threading.Lock()

    # --- the chat -------------------------------------------------------------------------------------------
    def respond(
        self, question: str, messages: list[dict[str, Any]] | None, k: float | None = None
    ) -> Iterator[tuple[list[dict[str, Any]], str, str]]:
        """Stream an answer into the chat: (messages, question box, sources panel) after each piece."""
        try:
            require_question(question)
            # the chat holds what `shown` made of each turn, in whatever form Gradio hands it back: read it as typed
            history = [Turn(t.role, plain(t.content)) for t in read_history(messages)]
        except RagError as exc:
            raise raise_for_user(exc) from None
        except ValidationError:
            history = []  # not a conversation this page wrote: the question is answered on its own
        chat = [*(messages or []), {"role": "user", "content": shown(question)}, {"role": "assistant", "content": "…"}]
        yield list(chat), "", '<p class="rag-waiting">Đang tìm trong tài liệu…</p>'
        streamed, draft, panel = "", None, '<p class="rag-waiting">Đang viết câu trả lời…</p>'
        try:
            with self.pipeline.busy:  # held across the stream (the OpenAI-compatible endpoint waits for it)
                view = self.pipeline.retriever.current()  # the answer and its sources panel from one index
                for event in self.pipeline.stream(question, history, int(k) if k else None, retriever=view):
                    if isinstance(event, Draft):  # the quote and its sources, before the model's first word
                        draft = event
                        panel = draft_sources_html(draft, view.chunks(cited(draft)))
                        chat[-1] = {"role": "assistant", "content": draft_text(draft, streamed)}
                        yield list(chat), "", panel
                    elif isinstance(event, str):
                        streamed += event
                        chat[-1] = {"role": "assistant", "content": draft_text(draft, streamed)}
                        yield list(chat), "", panel
                    else:
                        chat[-1] = {"role": "assistant", "content": chat_text(event)}
                        chunks = view.chunks(cited(event))
                        yield list(chat), "", sources_html(event, chunks)
        except RagError as exc:
            raise raise_for_user(exc) from None

    # --- the API (and MCP tools) ----------------------------------------------------------------------------
    def ask(self, question: str, history: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """Answer a question from the indexed documents, in Vietnamese, citing the passages used.

        Args:
            question: the question, in Vietnamese.
            history: earlier turns of the conversation, oldest first, as {"role": "user"|"assistant", "content": str}.
        Returns:
            the answer (text with [n] markers), its mode (generated, extractive, abstained), citations, timings.
        """
        try:
            asked = checked(AskIn, question=question, history=history)
            turns = [t.turn() for t in asked.history or []]
            with self.pipeline.busy:
                return answer_json(self.pipeline.ask(asked.question, turns))
        except RagError as exc:
            raise raise_for_user(exc) from None

    def search(self, query: str, k: int = 5) -> list[dict[str, Any]]:
        """Find the passages of the indexed documents that best match a query, best first.

        Args:
            query: what to look for, in Vietnamese.
            k: how many passages to return (1 to 50).
        Returns:
            ranked passages: rank, score, dense, lexical, id, doc_id, title, date, start, end, text.
        """
        try:
            asked = checked(SearchIn, query=query, k=k)
        except RagError as exc:
            raise raise_for_user(exc) from None
        return hits_json(self.pipeline.retriever.current().search(asked.query, k=asked.k))

    def documents(self) -> list[dict[str, Any]]:
        """List the indexed documents: id, title, date, source and number of chunks."""
        return documents_json(self.pipeline.retriever.current().documents())

    # --- documents and settings -----------------------------------------------------------------------------
    def document_views(self) -> tuple[list[list[Any]], list[tuple[str, str]]]:
        """The documents as table rows (title, date, chunks, file) and as (label, id) choices for removal."""
        documents = self.documents()
        rows = [[d["title"], d["date"] or "", d["chunks"], d["id"], notes(d)] for d in documents]
        return rows, [(f"{d['title']} ({d['id']})", d["id"]) for d in documents]

    def upload(self, paths: Sequence[str] | None, progress: gr.Progress | None = None) -> str:
        """Index uploaded files; a Markdown report of what was added, refused or skipped."""
        if self.library is None:
            raise gr.Error("Ứng dụng này không nhận thêm tài liệu.", print_exception=False)
        if not paths:
            raise gr.Error("Chưa chọn tệp nào.", print_exception=False)
        try:
            result = self.library.add(
                [(Path(p).name, Path(p)) for p in paths], UiProgress(progress) if progress is not None else None
            )
        except RagError as exc:
            raise raise_for_user(exc) from None
        finally:
            for p in paths:  # Gradio's copy in its cache: kept or not, the document is no longer served from there
                Path(p).unlink(missing_ok=True)
        lines = [f"- Đã thêm: {shown(Path(d).name)}" for d in result.added]
        lines += [f"- Đã cập nhật: {shown(Path(d).name)}" for d in result.changed]
        lines += [f"- Không đổi (đã có): {shown(Path(d).name)}" for d in result.unchanged]
        lines += [f"- Bị từ chối: {shown(s.path)} — {shown(s.reason)}" for s in result.refused]
        lines += [f"- Bỏ qua: {shown(Path(s.path).name)} — {shown(s.vi or s.reason)}" for s in result.skipped]
        return "\n".join(lines) + f"\n\nChỉ mục có {result.chunks} đoạn văn."

    def remove(self, doc_id: str | None) -> str:
        if self.library is None:
            raise gr.Error("Ứng dụng này không cho xoá tài liệu.", print_exception=False)
        if not doc_id:
            raise gr.Error("Chưa chọn tài liệu nào.", print_exception=False)
        try:
            removed = self.library.remove(doc_id)
        except RagError as exc:
            raise raise_for_user(exc) from None
        return f"Đã xoá {shown(doc_id)}." if removed else f"{shown(doc_id)} không có trong chỉ mục."

    def current_model(self) -> str | None:
        name = self.pipeline.generator.name
        return name if name in self.models else None

    def use_model(self, name: str) -> tuple[str, Any]:
        """Load another installed language model for everyone using this app, then release the previous one.

        Returns the status line and the picker showing the model that answers now (the old one when loading failed).
        """
        model = self.models.get(name)
        if model is None:
            return f"Không có mô hình {shown(str(name))}.", gr.Dropdown(value=self.current_model())
        if self.current_model() == name:
            return f"Đang dùng {shown(name)}.", gr.skip()
        with self._switch:
            try:
                # both are in memory for a moment, so that the old one still answers when the new one fails to load
                loaded = model.load()
                with self.pipeline.busy:  # not while the old one answers
                    self.pipeline.use_generator(loaded)
            except RagError as exc:
                return f"Không tải được {shown(name)}: {shown(str(exc))}", gr.Dropdown(value=self.current_model())
        return f"Đã chuyển sang {shown(name)}.", gr.skip()


def build_app(pipeline: Pipeline, library: Library | None = None, models: Sequence[Model] = ()) -> gr.Blocks:
    """The Gradio app around an already-loaded pipeline; nothing is loaded here."""
    h = Handlers(pipeline, library, models)
    model = "model"  # one concurrency group: the single local model answers one question at a time
    # uploads sit in Gradio's cache only until they are copied; whatever is left there goes within the hour
    with gr.Blocks(title="Hỏi đáp tài liệu", analytics_enabled=False, delete_cache=(1800, 3600)) as app:
        gr.Markdown("# Hỏi đáp tài liệu\nHỏi bằng tiếng Việt; câu trả lời chỉ dựa trên các tài liệu đã nạp, kèm nguồn.")
        with gr.Tab("Trò chuyện"), gr.Row():
            with gr.Column(scale=3):
                chat = gr.Chatbot(label="Cuộc trò chuyện", height=480, elem_id="chat", buttons=["copy", "copy_all"])
                question = gr.Textbox(label="Câu hỏi", placeholder="Đặt câu hỏi về tài liệu…", elem_id="question")
                with gr.Row():
                    send = gr.Button("Gửi", variant="primary", elem_id="send")
                    clear = gr.Button("Xoá cuộc trò chuyện", elem_id="clear")
                gr.Examples(EXAMPLES, inputs=question, label="Câu hỏi mẫu")
            with gr.Column(scale=2):
                gr.Markdown("### Nguồn")
                sources = gr.HTML("<p>Nguồn của câu trả lời sẽ hiện ở đây.</p>", elem_id="sources")
        with gr.Tab("Tài liệu"):
            can_change = library is not None
            files = gr.File(
                label=f"Tải tài liệu lên ({', '.join(UPLOAD_TYPES)})",
                file_count="multiple",
                file_types=list(UPLOAD_TYPES),
                type="filepath",
                interactive=can_change,
            )
            add = gr.Button("Thêm vào chỉ mục", variant="primary", interactive=can_change)
            report = gr.Markdown()
            rows, choices = h.document_views()
            table = gr.Dataframe(
                rows,
                headers=["Tiêu đề", "Ngày", "Số đoạn", "Tệp", "Ghi chú"],
                interactive=False,
                label="Tài liệu đã nạp",
                elem_id="documents",
            )
            with gr.Row():
                chosen = gr.Dropdown(choices, label="Tài liệu cần xoá", value=None)
                drop = gr.Button("Xoá tài liệu", variant="stop", interactive=can_change)
        with gr.Tab("Cài đặt"):
            k = gr.Slider(1, 10, value=pipeline.top_k, step=1, label="Số đoạn văn tìm cho mỗi câu hỏi")
            picker = gr.Dropdown(
                [m.name for m in models],
                value=h.current_model(),
                label="Mô hình ngôn ngữ (dùng chung cho mọi người dùng ứng dụng này)",
                interactive=len(models) > 1,
            )
            model_status = gr.Markdown()

        private: dict[str, Any] = {"api_visibility": "private"}  # UI events are not API endpoints or MCP tools
        for trigger in (send.click, question.submit):
            trigger(h.respond, [question, chat, k], [chat, question, sources], concurrency_id=model, **private)
        clear.click(lambda: ([], "", ""), None, [chat, question, sources], queue=False, **private)

        def refreshed(message: str) -> tuple[str, list[list[Any]], Any]:
            rows, choices = h.document_views()
            return message, rows, gr.Dropdown(choices=choices, value=None)

        def upload(paths: list[str] | None, progress: gr.Progress = PROGRESS) -> tuple[str, list[list[Any]], Any]:
            return refreshed(h.upload(paths, progress))

        add.click(upload, files, [report, table, chosen], **private).then(lambda: None, None, files, **private)
        # each visitor sees the documents and the model as they are now, not as they were at start-up
        app.load(
            lambda: (*refreshed("")[1:], gr.Dropdown(value=h.current_model())), None, [table, chosen, picker], **private
        )
        drop.click(lambda doc: refreshed(h.remove(doc)), chosen, [report, table, chosen], **private)
        picker.input(h.use_model, picker, [model_status, picker], concurrency_id=model, **private)

        gr.api(h.ask, api_name="ask", concurrency_id=model)
        gr.api(h.search, api_name="search", concurrency_limit=4)
        gr.api(h.documents, api_name="documents", concurrency_limit=None)
    return app

"""What the page shows of answers and conversations: text made inert for HTML and Markdown, the chat's
messages, and the sources panel (mode, cited passages with their sentences marked).

Pure functions from `Answer`s, `Chunk`s and strings to strings, and back (`plain`): every
piece of document, question or model text that reaches the page goes through `shown` or
`html.escape` here. It knows nothing of Gradio's components.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from typing import Any

from rag.types import Answer, Chunk, Citation, Draft

MODES = {  # what each answer mode means to the reader: only what was checked is called checked
    "generated": (
        "Mô hình viết",
        "Mô hình viết câu trả lời; mọi con số, tên riêng và từ ngữ của nó đã được đối chiếu là có trong đoạn nguồn "
        "được trích.",
    ),
    "extractive": ("Trích nguyên văn", "Câu trả lời là đoạn trích nguyên văn từ tài liệu (không do mô hình viết)."),
    "abstained": (
        "Không trả lời",
        "Tài liệu không có thông tin đủ chắc chắn để trả lời câu hỏi này, nên hệ thống không đoán.",
    ),
}
DRAFT = "Bản nháp"
WRITING = "Mô hình đang viết (chưa kiểm chứng):"
CSS = """
.rag-mode { padding: .4em .7em; border-radius: .4em; font-weight: 600; margin-bottom: .6em; }
.rag-mode-generated { background: #e6f4ea; } .rag-mode-extractive { background: #e8f0fe; }
.rag-mode-abstained { background: #fdecea; }
.rag-draft { padding: .4em .7em; border-radius: .4em; margin-bottom: .6em; background: #f1f3f4; }
.rag-source { border-left: 3px solid #999; padding-left: .6em; margin: .6em 0; }
.rag-source mark { background: #fff3a3; }
"""
MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+!|~-])")
# What the chat's Markdown (GFM) would turn into a link by itself: "http://…", "www.…", "name@host"
AUTOLINK = re.compile(r":(?=//)|(?<=www)\.|@", re.IGNORECASE)
ESCAPED = re.compile(r"\\([\\`*_{}\[\]()#+!|~:.@-])")


def shown(text: str) -> str:
    r"""Text from a document, a question or the model, made inert for the chat's Markdown: no tags, no links or
    images (a reply must not make the browser fetch a URL, nor offer one to click, not even a bare address), no
    formatting. `plain` undoes it.

    >>> print(shown("![x](http://h/q) <b>A&B</b> [1] www.a.vn b@c.vn"))
    \!\[x\]\(http\://h/q\) &lt;b&gt;A&amp;B&lt;/b&gt; \[1\] www\.a.vn b\@c.vn
    >>> print(plain(shown("![x](http://h/q) <b>A&B</b> [1] www.a.vn b@c.vn \\.")))
    ![x](http://h/q) <b>A&B</b> [1] www.a.vn b@c.vn \.
    """
    escaped = MARKDOWN.sub(r"\\\1", html.escape(text, quote=False))
    return AUTOLINK.sub(lambda m: "\\" + m.group(), escaped)


def plain(text: str) -> str:
    """The text a person typed or read, from what `shown` put in the chat."""
    return html.unescape(ESCAPED.sub(r"\1", text))


def highlight(passage: str, quoted: str) -> str:
    """`passage` escaped, with each sentence of `quoted` (" … " between them) found in it wrapped in <mark>.

    >>> highlight("A <b>. Câu hai.", "Câu hai.")
    'A &lt;b&gt;. <mark>Câu hai.</mark>'
    """
    spans = []
    for piece in (p.strip() for p in quoted.split("…")):
        at = passage.find(piece) if piece else -1
        if at >= 0:
            spans.append((at, at + len(piece)))
    out, last = [], 0
    for start, end in sorted(spans):
        if start < last:
            continue
        out += [html.escape(passage[last:start]), "<mark>", html.escape(passage[start:end]), "</mark>"]
        last = end
    out.append(html.escape(passage[last:]))
    return "".join(out)


def sources_html(answer: Answer, chunks: Mapping[str, Chunk]) -> str:
    """The sources panel: the answer's mode, then each cited passage (title, date, file) with its sentence marked."""
    label, meaning = MODES.get(answer.mode, (answer.mode, ""))
    parts = [
        f'<div class="rag-mode rag-mode-{html.escape(answer.mode)}">{html.escape(label)}: {html.escape(meaning)} '
        f"{html.escape(sureness(answer))}</div>"
    ]
    if answer.notice:
        parts.append(f"<p>{html.escape(answer.notice)}</p>")
    if answer.mode == "extractive" and answer.reply:
        parts.append(
            "<p><small>Câu trả lời của mô hình không qua được bước kiểm chứng với nguồn, "
            "nên đây là câu trích từ tài liệu.</small></p>"
        )
    for c in answer.citations:
        parts.append(source_html(c, chunks.get(c.chunk_id)))
    if not answer.citations:
        parts.append("<p>Không có đoạn nguồn nào được trích dẫn.</p>")
    return "\n".join(parts)


def draft_sources_html(draft: Draft, chunks: Mapping[str, Chunk]) -> str:
    """The sources panel while the model writes: what the draft is, then the passages it quotes."""
    parts = [
        f'<div class="rag-draft">{html.escape(DRAFT)}: câu trích nguyên văn từ tài liệu; mô hình đang viết câu trả '
        "lời, và câu của mô hình sẽ thay nó nếu qua được bước kiểm chứng với nguồn. "
        f"Khả năng câu trích đúng (ước tính): {draft.confidence:.0%}.</div>"
    ]
    parts.extend(source_html(c, chunks.get(c.chunk_id)) for c in draft.citations)
    return "\n".join(parts)


def source_html(c: Citation, chunk: Chunk | None) -> str:
    title = html.escape(c.title) + (f" — {html.escape(c.date)}" if c.date else "")
    quote = f"<mark>{html.escape(c.text)}</mark>"
    whole = highlight(chunk.text, c.text) if chunk is not None else quote
    return (
        f'<div class="rag-source" id="nguon-{c.n}"><p><b>[{c.n}] {title}</b><br><small>{html.escape(c.doc)}</small></p>'
        f"<blockquote>{quote}</blockquote>"
        f"<details><summary>Xem cả đoạn văn</summary><p>{whole}</p></details></div>"
    )


def sureness(answer: Answer) -> str:
    """How sure the answer is, in words a reader can weigh: the estimated chance that it is right.

    >>> from rag.types import Timings
    >>> sureness(Answer("q", "q", "a", "generated", (), Timings(0, 0, 0), confidence=0.873))
    'Khả năng câu trả lời đúng (ước tính): 87%.'
    """
    if answer.mode == "abstained":
        return f"Khả năng tài liệu không trả lời câu hỏi này (ước tính): {answer.confidence:.0%}."
    return f"Khả năng câu trả lời đúng (ước tính): {answer.confidence:.0%}."


def draft_text(draft: Draft | None, streamed: str) -> str:
    """What the chat shows while the model writes: the draft (when there is one), then the model's words so far,
    each saying what it is.

    >>> from rag.types import Draft
    >>> print(draft_text(Draft("Có 11 cây cầu [1].", (), 0.8), "Có 11"))
    Có 11 cây cầu \\[1\\].
    <BLANKLINE>
    *(Bản nháp: trích nguyên văn)*
    <BLANKLINE>
    *Mô hình đang viết (chưa kiểm chứng):* Có 11
    """
    if draft is None:
        return shown(streamed) if streamed else "…"
    text = f"{shown(draft.text)}\n\n*({DRAFT}: trích nguyên văn)*"
    return text + (f"\n\n*{WRITING}* {shown(streamed)}" if streamed.strip() else "")


def chat_text(answer: Answer) -> str:
    """What the chat shows for a final answer: the text (escaped: it may quote a document) and its mode (how sure
    it is stands in the sources panel, beside what it is based on)."""
    label = MODES.get(answer.mode, (answer.mode, ""))[0]
    return f"{shown(answer.text)}\n\n*({label})*"


def notes(document: Mapping[str, Any]) -> str:
    """The document table's notes on how a document was read: a derived title, OCR, a converted encoding.

    >>> notes({"title_derived": True, "ocr_pages": 3, "converted_from": "tcvn3"})
    'tiêu đề lấy từ câu đầu tiên; nhận dạng chữ (OCR) 3 trang; chuyển từ bảng mã TCVN3'
    """
    parts = []
    if document.get("title_derived"):
        parts.append("tiêu đề lấy từ câu đầu tiên")
    if document.get("ocr_pages"):
        parts.append(f"nhận dạng chữ (OCR) {document['ocr_pages']} trang")
    if document.get("converted_from"):
        parts.append(f"chuyển từ bảng mã {str(document['converted_from']).upper()}")
    return "; ".join(parts)

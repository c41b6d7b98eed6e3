"""Question in, `Answer` out: the whole answer pipeline, streamed.

question (+ history) → standalone query → hybrid retrieval → evidence sentences → prompt →
model, streamed → citations verified → `Answer` in one of three modes:
- `generated`: the model's reply passed `rag.verify` (possibly with citations repaired);
- `extractive`: the reply did not pass, so the best evidence sentences are quoted instead;
- `abstained`: the evidence is too weak, the question names something no passage mentions,
  or the model said the passages do not answer. The fixed sentence, no citations.

`stream` yields the model's text as it comes (`str`), then the final `Answer`, whose text
may differ from what was streamed (verified, repaired or replaced): a front end shows the
stream as a draft and the `Answer` as the result. The pipeline holds no chat history;
callers pass it in, so two conversations never mix.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Literal

from rag import answer as forms
from rag import evidence
from rag.config import Settings
from rag.errors import QuestionError
from rag.generate import Generator, Message
from rag.prompts import render
from rag.retrieve import Retriever
from rag.text import fold
from rag.types import Answer, Citation, Timings
from rag.verify import check

Event = str | Answer
Role = Literal["user", "assistant"]


class Pipeline:
    def __init__(
        self,
        retriever: Retriever,
        generator: Generator,
        top_k: int = 5,
        evidence_tokens: int = 250,
        answer_tokens: int = 160,
        abstain_below: float = 0.80,
        max_question_chars: int = 1000,
        style: Literal["auto", "extractive"] = "auto",
    ) -> None:
        self.retriever, self.generator = retriever, generator
        self.top_k, self.evidence_tokens, self.answer_tokens = top_k, evidence_tokens, answer_tokens
        self.abstain_below, self.max_question_chars = abstain_below, max_question_chars
        self.style = style
        self.system = render("system", refusal=forms.no_answer())

    @classmethod
    def from_settings(cls, settings: Settings, retriever: Retriever, generator: Generator) -> Pipeline:
        return cls(retriever, generator, settings.top_k, settings.evidence_tokens, settings.answer_tokens,
                   settings.abstain_below, settings.max_question_chars, settings.answer_style)  # fmt: skip

    @classmethod
    def load(cls, settings: Settings) -> Pipeline:
        """Everything from the settings: index, embedder, language model (local, or `RAG_LLM_URL`), warmed up.

        The cheap checks come first, so a missing index or model is reported before seconds of loading.
        """
        from rag import embed, models
        from rag import index as store
        from rag.generate import HttpGenerator, LlamaGenerator
        from rag.manifest import load_manifest

        manifest = load_manifest(settings.manifest_path)
        gguf = None if settings.llm_url else models.llm_path(settings, manifest)
        embedder_dir = models.embedder_path(settings, manifest)
        index = store.load(settings.index_path)
        name = settings.embedder if settings.embedder_path is None else str(embedder_dir)
        embedder = embed.load(embedder_dir, settings.n_threads, name, settings.embedder_backend)
        retriever = Retriever(index, embedder, settings.dense_weight, settings.fusion)
        generator: Generator
        if gguf is None:
            generator = HttpGenerator(str(settings.llm_url), settings.llm_api_key, settings.llm_model)
        else:
            name = settings.llm if settings.llm_path is None else gguf.stem
            generator = LlamaGenerator.load(gguf, settings.n_ctx, settings.n_threads, name=name)
        pipeline = cls.from_settings(settings, retriever, generator)
        pipeline.warm_up()
        return pipeline

    def warm_up(self) -> None:
        """Put the system prompt in the model's cache (a local model only; a server keeps its own), and run one
        search, so that the first question does not pay for the embedder's first call (about 0.2 s on 2 cores)."""
        self.retriever.search("khởi động", k=1)
        warm = getattr(self.generator, "warm_up", None)
        if warm is not None:
            warm(self.system)

    def ask(self, question: str, history: Sequence[tuple[Role, str]] = (), top_k: int | None = None) -> Answer:
        """The final answer, without the stream."""
        for event in self.stream(question, history, top_k):
            if isinstance(event, Answer):
                return event
        raise AssertionError("stream ended without an answer")

    def stream(
        self, question: str, history: Sequence[tuple[Role, str]] = (), top_k: int | None = None
    ) -> Iterator[Event]:
        """The model's text as it comes, then the `Answer`; `top_k` overrides the passages retrieved for this call."""
        started = time.perf_counter()

        def ms() -> float:
            return (time.perf_counter() - started) * 1000

        if not fold(question):  # whitespace, invisible characters or punctuation only
            raise QuestionError("the question is empty; type a question about your documents.")
        notice = ""
        if len(question) > self.max_question_chars:
            question = question[: self.max_question_chars]
            notice = (
                f"Câu hỏi dài hơn {self.max_question_chars} ký tự nên chỉ phần đầu được dùng. "
                f"(The question was cut to its first {self.max_question_chars} characters.)"
            )
        query, previous = forms.standalone(question, history)
        hits = self.retriever.search(query, k=top_k or self.top_k)
        passages = evidence.select(query, hits, self.generator.count_tokens, self.evidence_tokens)
        retrieval_ms = ms()
        retrieved = tuple(h.chunk.doc_id for h in hits)

        called = False  # whether the model was asked: its timings count then

        def done(
            text: str, mode: str, citations: tuple[Citation, ...] = (), reply: str = "", why: str = "", first: float = 0
        ) -> Answer:
            t = self.generator.last_timings if called else None
            timings = Timings(
                retrieval_ms=retrieval_ms,
                first_token_ms=first or ms(),
                total_ms=ms(),
                prompt_ms=t.prompt_ms if t else 0.0,
                generate_ms=t.generate_ms if t else 0.0,
                prompt_tokens=t.prompt_tokens if t else 0,
                generated_tokens=t.generated_tokens if t else 0,
            )
            return Answer(question, query, text, mode, citations, timings, retrieved, reply, why, notice)

        if not passages:
            yield done(forms.no_answer(), "abstained", why="no passage matches the question")
            return
        if (best := max(h.dense for h in hits)) < self.abstain_below:
            yield done(forms.no_answer(), "abstained", why=f"best passage cosine {best:.3f} is too low")
            return
        # the question itself, not the joined query: a premise the earlier question lacked must not stick
        if missing := forms.missing_premises(question, [h.chunk for h in hits]):
            yield done(forms.no_answer(), "abstained", why=f"no passage mentions {', '.join(missing)}")
            return
        if thing := forms.uncounted(question, [h.chunk for h in hits]):
            yield done(
                forms.no_answer(), "abstained", why=f"the question asks how many '{thing}'; no passage counts it"
            )
            return

        if self.style == "extractive":
            text, citations = forms.extractive(passages)
            yield done(text, "extractive", citations, why="RAG_ANSWER_STYLE=extractive")
            return

        prompt = forms.question_prompt(question, passages, previous)
        messages = [Message("system", self.system), Message("user", prompt)]
        pieces: list[str] = []
        first = 0.0
        called = True
        replying = self.generator.stream(messages, self.answer_tokens)
        try:
            for piece in replying:
                if not pieces:
                    first = ms()
                pieces.append(piece)
                yield piece
        finally:  # a reader who stops listening frees the model at once, not when the stream is collected
            close = getattr(replying, "close", None)
            if close is not None:
                close()
        reply = "".join(pieces)

        # checked against what the model was shown of each passage: title, date and sentences
        verdict = check(reply, [f"{p.chunk.title}\n{p.chunk.date or ''}\n{p.text}" for p in passages], query)
        # refusal words in a reply that verifies are part of an answer ("không tìm thấy sai phạm [1]")
        if forms.is_refusal(reply) and not verdict.ok:
            yield done(forms.no_answer(), "abstained", reply=reply, why="the model found no answer", first=first)
            return
        if verdict.ok:
            text, citations = forms.generated(verdict.claims, passages)
            yield done(text, "generated", citations, reply, verdict.reason, first)
            return
        text, citations = forms.extractive(passages)
        yield done(text, "extractive", citations, reply, f"the reply failed verification: {verdict.reason}", first)

"""Question in, `Answer` out: the whole answer pipeline, streamed.

question (+ history) → standalone query → hybrid retrieval → evidence sentences → prompt →
model, streamed → citations verified → `Answer` in one of three modes:
- `generated`: the model's reply passed `rag.verify` (possibly with citations repaired);
- `extractive`: the reply did not pass, so the best evidence sentences are quoted instead;
- `abstained`: the evidence is too weak, the question names something no passage mentions,
  or the model said the passages do not answer. The fixed sentence, no citations.

`stream` yields, as soon as retrieval and evidence are done, the short quote that would be
shown if the model's words do not pass (a `Draft`, when the quote clears its threshold), then
the model's text as it comes (`str`), then the final `Answer`, whose text may differ from what
was streamed (verified, repaired or replaced): a front end shows the draft and the stream
while the model writes, and the `Answer` as the result. The pipeline holds no chat history;
callers pass it in, so two conversations never mix.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from typing import Literal

from rag import answer as forms
from rag import candidates, decide, embed, evidence, generate, installed
from rag.candidates import Context
from rag.confidence import Model, shipped
from rag.config import Settings
from rag.decide import Decision
from rag.generate import Generator, Message, Usage
from rag.manifest import load_manifest
from rag.prompts import render
from rag.retrieve import Retriever
from rag.storage import open_store
from rag.types import Answer, Candidate, Draft, Headers, Timings, Turn
from rag.verify import check

Event = str | Draft | Answer
Style = Literal["auto", "extractive"]
TEMPLATE_TOKENS = 32  # what the chat template adds around the two messages, with room to spare


class Pipeline:
    def __init__(
        self,
        retriever: Retriever,
        generator: Generator,
        top_k: int = 5,
        evidence_tokens: int = 150,
        headers: Headers = "none",
        answer_tokens: int = 160,
        abstain_below: float = 0.80,
        max_question_chars: int = 1000,
        style: Style = "auto",
        context_tokens: int = 4096,
        confidence: Model | None = None,
    ) -> None:
        self.retriever, self.generator = retriever, generator
        self.top_k, self.evidence_tokens, self.answer_tokens = top_k, evidence_tokens, answer_tokens
        self.headers = headers
        self.abstain_below, self.max_question_chars = abstain_below, max_question_chars
        self.style, self.context_tokens = style, context_tokens
        self.confidence = confidence or shipped()
        self.system = render("system", refusal=forms.no_answer())
        # held by a front end while it uses the model, where two can ask at once (the chat and the OpenAI-compatible
        # endpoint): llama.cpp answers one question at a time. `stream` itself does not take it.
        self.busy = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, retriever: Retriever, generator: Generator) -> Pipeline:
        return cls(
            retriever,
            generator,
            top_k=settings.top_k,
            evidence_tokens=settings.evidence_tokens,
            headers=settings.passage_headers,
            answer_tokens=settings.answer_tokens,
            abstain_below=settings.abstain_below,
            max_question_chars=settings.max_question_chars,
            style=settings.answer_style,
            context_tokens=settings.n_ctx,
        )

    @classmethod
    def load(cls, settings: Settings) -> Pipeline:
        """Everything from the settings: index, embedder, language model (local, or `RAG_LLM_URL`), warmed up.

        The cheap checks come first, so a missing index or model is reported before seconds of loading.
        """
        manifest = load_manifest(settings.manifest_path)
        if settings.llm_url is None:
            installed.llm_path(settings, manifest)
        installed.embedder_path(settings, manifest)
        where = open_store(settings)
        retriever = Retriever(
            where.load(), embed.from_settings(settings), settings.dense_weight, settings.fusion, follow=where
        )
        pipeline = cls.from_settings(settings, retriever, generate.from_settings(settings))
        pipeline.warm_up()
        return pipeline

    def use_generator(self, generator: Generator) -> None:
        """Answer with another language model from now on (the app's model picker), warmed up first."""
        generator.warm_up(self.system)
        self.generator = generator

    def warm_up(self) -> None:
        """Put the system prompt in the model's cache (a local model only; a server keeps its own), and run one
        search, so that the first question does not pay for the embedder's first call (about 0.2 s on 2 cores)."""
        self.retriever.search("khởi động", k=1)
        self.generator.warm_up(self.system)

    def fitted_prompt(self, question: str, passages: Sequence[evidence.Passage], previous: str) -> str | None:
        """The question's prompt, made to fit the context window with the system prompt and the longest answer:
        the earlier question goes first, then the weakest passages; None when not even one passage fits."""
        count = self.generator.count_tokens
        room = self.context_tokens - self.answer_tokens - count(self.system) - TEMPLATE_TOKENS
        kept = list(passages)
        while kept:
            prompt = forms.question_prompt(question, kept, previous, self.headers)
            if count(prompt) <= room:
                return prompt
            if previous:
                previous = ""
            else:
                kept.pop()  # the passages are numbered best first
        return None

    def ask(
        self, question: str, history: Sequence[Turn] = (), top_k: int | None = None, style: Style | None = None
    ) -> Answer:
        """The final answer, without the stream."""
        for event in self.stream(question, history, top_k, style):
            if isinstance(event, Answer):
                return event
        raise AssertionError("stream ended without an answer")

    def stream(
        self,
        question: str,
        history: Sequence[Turn] = (),
        top_k: int | None = None,
        style: Style | None = None,
        retriever: Retriever | None = None,
    ) -> Iterator[Event]:
        """The `Draft` (when there is one), the model's text as it comes, then the `Answer`; `top_k` overrides the
        passages retrieved for this call, `style` the answer style (`extractive`: no model call). `retriever` is
        the one index the answer is made from (`Retriever.current()`, the live one, by default): a caller that
        shows the cited passages passes its own, to look them up in the same index."""
        started = time.perf_counter()

        def ms() -> float:
            return (time.perf_counter() - started) * 1000

        forms.require_question(question)
        notice = ""
        cut = len(question) > self.max_question_chars
        if cut:
            question = question[: self.max_question_chars]
            notice = (
                f"Câu hỏi dài hơn {self.max_question_chars} ký tự nên chỉ phần đầu được dùng. "
                f"(The question was cut to its first {self.max_question_chars} characters.)"
            )
        # earlier turns are bounded like the question: a follow-up carries the previous question into the prompt
        history = [Turn(role, content[: self.max_question_chars]) for role, content in history]
        query, previous = forms.standalone(question, history)
        retriever = retriever or self.retriever.current()  # one index for the whole answer
        hits = retriever.search(query, k=top_k or self.top_k)
        passages = evidence.select(query, hits, self.generator.count_tokens, self.evidence_tokens)
        retrieval_ms = ms()
        retrieved = tuple(h.chunk.doc_id for h in hits)

        context = Context.of(question, query, [h.dense for h in hits], retriever.idf)

        def done(
            decision: Decision,
            candidates: Sequence[Candidate | None] = (),
            reply: str = "",
            first: float = 0,
            usage: Usage | None = None,
        ) -> Answer:
            u = usage or Usage()
            timings = Timings(
                retrieval_ms=retrieval_ms,
                first_token_ms=first or ms(),
                total_ms=ms(),
                prompt_ms=u.prompt_ms,
                generate_ms=u.generate_ms,
                prompt_tokens=u.prompt_tokens,
                generated_tokens=u.generated_tokens,
            )
            scored = tuple(c for c in candidates if c is not None)
            return Answer(
                question,
                query,
                decision.text,
                decision.mode,
                decision.citations,
                timings,
                retrieved,
                reply,
                decision.reason.text,
                notice,
                cut,
                decision.confidence,
                decision.reason,
                scored,
            )

        quoted = candidates.quote(context, passages, self.confidence)
        if refusal := decide.before_model(question, hits, passages, self.abstain_below):
            yield done(decide.declined(refusal, [quoted]), [quoted])
            return
        if (style or self.style) == "extractive":
            yield done(decide.choose(None, quoted, self.confidence), [quoted])
            return
        prompt = self.fitted_prompt(question, passages, previous)
        if prompt is None:  # not even one passage fits the context window: the model is not asked
            yield done(decide.choose(None, quoted, self.confidence), [quoted])
            return
        drafted = decide.choose(None, quoted, self.confidence)
        if drafted.mode == "extractive":  # what stands if the model's words do not pass, on screen at once
            yield Draft(drafted.text, drafted.citations, drafted.confidence)
        messages = [Message("system", self.system), Message("user", prompt)]
        pieces: list[str] = []
        first = 0.0
        replying = self.generator.stream(messages, self.answer_tokens)
        try:
            while True:
                try:
                    piece = next(replying)
                except StopIteration as end:  # the stream's return value is its usage
                    usage: Usage = end.value or Usage()
                    break
                first = first or ms()
                pieces.append(piece)
                yield piece
        finally:  # a reader who stops listening frees the model at once, not when the stream is collected
            replying.close()
        reply = "".join(pieces)

        shown = [forms.passage_text(p, self.headers) for p in passages]  # what the model was shown
        verdict = check(reply, shown, query)
        # refusal words in a reply that verifies are part of an answer ("không tìm thấy sai phạm [1]")
        said_no = forms.is_refusal(reply) and not verdict.ok
        if said_no:
            quoted = candidates.quote(context, passages, self.confidence, declined=True)
        written = candidates.model_answer(
            context, reply, verdict, passages, usage.logprobs, quoted, self.confidence, said_no
        )
        decision = decide.choose(written, quoted, self.confidence, said_no, verdict.reason)
        yield done(decision, [written, quoted], reply, first, usage)

"""Values that cross module boundaries: frozen dataclasses, never dicts with magic keys."""

from __future__ import annotations

from dataclasses import astuple, dataclass, field, fields
from typing import Literal, NamedTuple

TextKind = Literal["query", "passage"]  # what an embedder is given: a question or a passage of a document
Role = Literal["user", "assistant"]
Mode = Literal["generated", "extractive", "abstained"]
Headers = Literal["title-date", "title", "none"]  # what the model is shown before each passage's sentences


class Turn(NamedTuple):
    """One earlier turn of a conversation, oldest first in a history: who spoke, and what they said."""

    role: Role
    content: str


@dataclass(frozen=True)
class Document:
    """A cleaned document: its text is what chunks' character spans point into."""

    id: str  # stable identity: the path, relative to the home folder when inside it
    path: str  # where it was read from
    title: str
    date: str | None  # ISO 8601 (YYYY-MM-DD) when the document states a full date
    source: str | None  # attribution kept as metadata: "Nguồn …", "Theo: …"
    text: str  # cleaned, normalised; paragraphs separated by line breaks
    content_hash: str  # sha256 of the file's bytes: what incremental indexing compares
    title_derived: bool = False  # the document has no headline: the title is its first informative sentence, cut
    encoding: str | None = None  # the legacy encoding (TCVN3, VNI) its text was converted from
    ocr_pages: int = 0  # pages read by OCR


@dataclass(frozen=True)
class Extracted:
    """Raw text out of a reader, with whatever metadata the format carries."""

    text: str
    title: str | None = None
    date: str | None = None
    ocr_pages: int = 0  # pages whose text came from OCR
    encoding: str | None = None  # the legacy encoding (TCVN3, VNI) the text was converted from


@dataclass(frozen=True)
class Skipped:
    """A file that was not ingested, and why (unsupported type, unreadable, empty), in English (the command line)
    and in Vietnamese (the app)."""

    path: str
    reason: str
    vi: str = field(default="", compare=False)  # the reason in Vietnamese (the app shows `reason` when "")


@dataclass(frozen=True)
class Chunk:
    """A passage of a document, as indexed and cited."""

    id: str
    doc_id: str
    title: str
    date: str | None
    start: int  # character span in the document's cleaned text
    end: int
    text: str


@dataclass(frozen=True)
class Citation:
    """A passage an answer cites: `n` is its number in the answer's text ("[2]")."""

    n: int
    doc: str  # the document's file name
    doc_id: str
    title: str
    date: str | None
    chunk_id: str
    text: str  # the cited sentence(s), as in the document; "…" marks sentences left out between them
    start: int  # the character span in the document's cleaned text from the first cited sentence to the last
    end: int


@dataclass(frozen=True)
class Draft:
    """What a front end shows while the model writes: the quote that is the answer if the model's words do not pass,
    with the passages it cites (the final `Answer` follows and says which it is)."""

    text: str
    citations: tuple[Citation, ...]
    confidence: float


@dataclass(frozen=True)
class Timings:
    """Milliseconds from the question's arrival; `prompt_ms`/`generate_ms` are llama.cpp's own counters."""

    retrieval_ms: float  # question rewrite, retrieval and evidence selection
    first_token_ms: float  # until the first piece of the answer could be shown
    total_ms: float
    prompt_ms: float = 0.0
    generate_ms: float = 0.0
    prompt_tokens: int = 0
    generated_tokens: int = 0


@dataclass(frozen=True)
class Features:
    """The signals of one candidate answer (`rag.confidence` says what each means), numbers a model weighs."""

    dense: float  # the best retrieved passage's cosine to the question
    dense_gap: float  # its lead over the second passage
    support: float  # idf-weighted share of the question's words in the candidate's sentence
    entities: float  # share of the question's numbers and names in that sentence (1 when it has none)
    rank: float  # 1 / the number of the passage that sentence is in
    typed: float  # 1 when the answer holds an expression of the asked kind, 0 when not (0.5: not asked)
    nearness: float  # 1 / (1 + words between that expression and the question's nearest word)
    words: float  # the answer's words / 40
    verified: float  # the model's words passed the word-level check (0 for a quote)
    logprob_mean: float  # mean log-probability of the model's tokens (0 for a quote)
    logprob_min: float  # the least likely token's log-probability (0 for a quote)
    agree: float  # the model's answer holds the quote's expression (or overlaps its words)
    declined: float  # the model said the passages do not answer
    person: float
    number: float
    date: float
    place: float
    other: float

    def vector(self) -> list[float]:
        return [float(v) for v in astuple(self)]

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]


@dataclass(frozen=True)
class Candidate:
    """One answer the pipeline could show: its mode, text (with markers), citations, signals and the probability
    the confidence model gives it of being right."""

    mode: Mode
    text: str
    citations: tuple[Citation, ...]
    features: Features
    probability: float
    expression: str = ""  # the number, date or name of the asked kind it gives ("" when none)


@dataclass(frozen=True)
class Reason:
    """Why an answer has its mode: a stable code for programs (`rag.decide.ReasonCode`) and a sentence for people."""

    code: str
    text: str


@dataclass(frozen=True)
class Answer:
    question: str  # as asked (after the length limit)
    query: str  # the standalone query that retrieval used
    text: str
    mode: Mode
    citations: tuple[Citation, ...]
    timings: Timings
    retrieved: tuple[str, ...] = ()  # document ids of the retrieved chunks, best first
    reply: str = ""  # what the model wrote, before checking ("" when it was not asked)
    why: str = ""  # what verification repaired, or why the answer fell back or abstained
    notice: str = ""  # something the person asking should know (the question was shortened)
    question_cut: bool = False  # the question was longer than RAG_MAX_QUESTION_CHARS and only its start was used
    confidence: float = 0.0  # the probability that what is shown is right (for a refusal: that none is)
    reason: Reason = Reason("", "")
    candidates: tuple[Candidate, ...] = ()  # what could have been shown, scored (the evaluation reads them)

"""What the user is shown, piece by piece: the question's kind and the short span, each gate and the choice between
the model's words, a quote and the refusal, and the shipped confidence model, on hand-made passages."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from rag import decide
from rag.answer import no_answer
from rag.candidates import Context, anchor, model_answer, quote
from rag.confidence import CLIP, Logistic, Model, shipped
from rag.evidence import Passage, Sentence
from rag.retrieve import Hit
from rag.spans import MAX_WORDS, Words, expressions, kind, span
from rag.types import Candidate, Chunk, Features
from rag.verify import check

CONG_VAN = (
    "Trong tháng 8/2023, Văn phòng Quốc hội đã tiếp nhận và xử lý 30.087 công văn đến, phát hành 2.232 công văn đi."
)
HOI_NGHI = "Sáng 5/1/2021, tại Hà Nội, Chủ nhiệm Văn phòng Quốc hội Nguyễn Hạnh Phúc chủ trì Hội nghị tổng kết."
OTHER = "Văn phòng Quốc hội tổ chức nhiều hoạt động đối ngoại trong năm."


def passages(*texts: str) -> list[Passage]:
    out = []
    for n, text in enumerate(texts, 1):
        chunk = Chunk(f"c{n}", f"d{n}.txt", f"Tài liệu {n}", None, 0, len(text), text)
        out.append(Passage(n, chunk, (Sentence(chunk, 0, len(text), text, 1.0 / n),)))
    return out


def hits(*dense: float) -> list[Hit]:
    return [Hit(Chunk(f"c{i}", "d.txt", "T", None, 0, 10, CONG_VAN), 1.0, d, 1.0) for i, d in enumerate(dense)]


# --- the question's kind and the short answer ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "asked"),
    [
        ("Ai là Chủ nhiệm Văn phòng Quốc hội?", "person"),
        ("Phó Chủ tịch Quốc hội nào dự hội nghị?", "person"),
        ("Có bao nhiêu công văn đến?", "number"),
        ("Phiên họp thứ mấy của Ủy ban Thường vụ?", "number"),
        ("Hội nghị diễn ra vào ngày nào?", "date"),
        ("Khi nào kỳ họp khai mạc?", "date"),
        ("Hội nghị tổ chức ở đâu?", "place"),
        ("Văn phòng Quốc hội có nhiệm vụ gì?", "other"),
        ("Địa chỉ ai@quochoi.vn dùng để làm gì?", "other"),  # "ai" in an address asks for no one
    ],
)
def test_the_kind_of_a_question_comes_from_its_question_word(question: str, asked: str) -> None:
    assert kind(question) == asked


def test_a_span_is_the_clause_with_the_asked_expression_next_to_the_questions_words() -> None:
    number = span("Văn phòng Quốc hội tiếp nhận bao nhiêu công văn đến?", CONG_VAN)
    assert number.expression is not None and number.expression.text == "30.087 công văn đến"
    assert number.text == CONG_VAN  # a short sentence is the answer as it stands
    went = span("Văn phòng Quốc hội phát hành bao nhiêu công văn đi?", CONG_VAN)
    assert went.expression is not None and went.expression.text.startswith("2.232")
    who = span("Ai chủ trì Hội nghị tổng kết?", HOI_NGHI)
    assert who.expression is not None and who.expression.text == "Nguyễn Hạnh Phúc"
    when = span("Hội nghị tổng kết diễn ra vào ngày nào?", HOI_NGHI)
    assert when.expression is not None and "5/1/2021" in when.expression.text
    where = span("Hội nghị tổng kết tổ chức ở đâu?", HOI_NGHI)
    assert where.expression is not None and where.expression.text == "Hà Nội"


def test_a_name_already_in_the_question_is_not_its_answer() -> None:
    asked = span("Nguyễn Hạnh Phúc giữ chức vụ gì?", HOI_NGHI, "person")
    assert asked.expression is None or asked.expression.text != "Nguyễn Hạnh Phúc"


def test_a_long_sentence_is_cut_to_a_short_answer() -> None:
    long = ", ".join(f"mục {i} gồm nhiều việc cụ thể" for i in range(30)) + ", trong đó có 45 đề án lớn."
    cut = span("Có bao nhiêu đề án lớn?", long)
    assert len(Words.of(cut.text)) <= MAX_WORDS and "45 đề án" in cut.text
    plain = span("Văn phòng làm những việc gì?", long)
    assert len(Words.of(plain.text)) <= MAX_WORDS


def test_names_of_bodies_are_not_people() -> None:
    kinds = {e.text: e.kind for e in expressions(Words.of("Ông Bùi Văn Cường dự họp cùng Đoàn Đại biểu Quốc hội."))}
    assert kinds["Bùi Văn Cường"] == "person" and kinds.get("Đoàn Đại") in ("other", None)
    chair = "Chủ tịch Quốc hội Nguyễn Thị Kim Ngân dự Hội nghị của Văn phòng Quốc hội."
    # a title's or a body's first word is no name ("Chủ", "Văn"); "Ngân" in a person's name is not "Ngân hàng"
    assert [(e.kind, e.text) for e in expressions(Words.of(chair))] == [("person", "Nguyễn Thị Kim Ngân")]


def test_a_long_sentence_is_cut_around_its_answer_not_before_it() -> None:
    long = (
        "Cùng với đó, Văn phòng Quốc hội cũng sẽ tham mưu, phục vụ Quốc hội Việt Nam đăng cai tổ chức Hội nghị "
        "Nghị sĩ trẻ toàn cầu lần thứ 9, diễn ra tại Hà Nội; tham mưu, phục vụ Ủy ban Thường vụ Quốc hội tổ chức "
        "Phiên họp thứ 26 và Phiên họp chuyên đề pháp luật tháng 9/2023; tiếp tục kiện toàn nhân sự."
    )
    cut = span("Hội nghị Nghị sĩ trẻ toàn cầu do Quốc hội Việt Nam đăng cai diễn ra ở đâu?", long)
    assert len(Words.of(cut.text)) <= MAX_WORDS < len(Words.of(long))
    assert "Hà Nội" in cut.text and cut.expression is not None and cut.expression.text == "Hà Nội"


# --- the gates before the model -----------------------------------------------------------------------------------


def test_each_gate_declines_only_what_it_is_for() -> None:
    assert decide.no_passage([]) is not None and decide.no_passage(passages(CONG_VAN)) is None
    assert decide.low_similarity(hits(0.7, 0.6), 0.8) is not None and decide.low_similarity(hits(0.85), 0.8) is None
    assert decide.missing_premise("Năm 2019 có bao nhiêu công văn đến?", hits(0.9)) is not None
    assert decide.missing_premise("Tháng 8/2023 có bao nhiêu công văn đến?", hits(0.9)) is None
    assert decide.uncounted("Có bao nhiêu tỷ đồng kinh phí?", hits(0.9)) is not None
    assert decide.uncounted("Có bao nhiêu công văn đến?", hits(0.9)) is None
    reasons = [decide.before_model("Năm 2019 có bao nhiêu công văn đến?", hits(0.7), [], 0.8)]
    assert [r.code for r in reasons if r] == ["no_passage"]  # the first gate that applies gives the reason


# --- the choice after the model -----------------------------------------------------------------------------------


def features(**values: float) -> Features:
    base = dict.fromkeys(Features.names(), 0.0)
    return Features(**(base | values))


def candidate(mode: str, probability: float, verified: bool = True) -> Candidate:
    return Candidate(mode, f"{mode} [1]", (), features(verified=float(verified)), probability)  # type: ignore[arg-type]


def model(generated: float = 0.6, extractive: float = 0.7) -> Model:
    flat = Logistic(
        tuple([0.0] * len(Features.names())),
        0.0,
        tuple([0.0] * len(Features.names())),
        tuple([1.0] * len(Features.names())),
    )
    return Model(flat, flat, generated, extractive, (-0.5, -3.0), "test")


def test_the_model_words_come_first_then_the_quote_then_the_refusal() -> None:
    m = model()
    assert decide.choose(candidate("generated", 0.9), candidate("extractive", 0.95), m).mode == "generated"
    assert decide.choose(candidate("generated", 0.5), candidate("extractive", 0.8), m).mode == "extractive"
    unchecked = candidate("generated", 0.99, verified=False)  # never shown, however sure
    assert decide.choose(unchecked, candidate("extractive", 0.8), m).mode == "extractive"
    refused = decide.choose(candidate("generated", 0.5), candidate("extractive", 0.6), m)
    assert (refused.mode, refused.text, refused.citations, refused.reason.code) == (
        "abstained",
        no_answer(),
        (),
        "low_confidence",
    )
    assert refused.confidence == pytest.approx(0.4)  # 1 - the likeliest candidate's probability
    declined = decide.choose(candidate("generated", 0.9), candidate("extractive", 0.95), m, model_declined=True)
    assert declined.reason.code == "model_declined" and declined.mode == "abstained"
    shown = decide.choose(candidate("generated", 0.9), None, m, repairs="1 citation(s) dropped")
    assert "dropped" in shown.reason.text and shown.confidence == 0.9


# --- the candidates and the shipped model ---------------------------------------------------------------------------


def test_the_quote_comes_from_the_sentence_that_answers_and_the_reply_is_anchored_in_its_own() -> None:
    given = passages(OTHER, CONG_VAN)
    context = Context.of("Có bao nhiêu công văn đến?", "Có bao nhiêu công văn đến?", [0.9, 0.85], lambda t: 1.0)
    quoted = quote(context, given, shipped())
    assert quoted is not None and "30.087" in quoted.text and quoted.text.endswith("[2]")
    assert quoted.features.typed == 1.0 and quoted.features.number == 1.0 and quoted.features.nearness > 0.3
    found = anchor("Có 30.087 công văn đến [2].", given)
    assert found is not None and found[0].n == 2
    reply = "Văn phòng đã tiếp nhận 30.087 công văn đến [2]."
    verdict = check(reply, [p.text for p in given], context.query)
    written = model_answer(context, reply, verdict, given, [-0.1, -0.2], quoted, shipped(), False)
    assert written is not None and written.features.verified == 1.0 and written.features.agree == 1.0
    assert written.features.logprob_min == pytest.approx(-0.2)


def test_the_shipped_model_loads_and_ranks_a_well_supported_answer_above_a_weak_one() -> None:
    m = shipped()
    assert m.fitted and 0 < m.show_generated <= 1 and 0 < m.show_extractive <= 1
    easy = features(
        dense=0.92, dense_gap=0.05, support=1.0, entities=1.0, rank=1.0, typed=1.0, nearness=1.0, words=0.2, number=1.0
    )
    hard = replace(easy, dense=0.82, dense_gap=0.0, support=0.2, entities=0.0, typed=0.0, nearness=0.0, rank=0.2)
    assert m.extractive.probability(easy) > m.extractive.probability(hard)
    easy_words = replace(easy, verified=1.0, logprob_mean=-0.05, logprob_min=-0.3, agree=1.0)
    hard_words = replace(hard, verified=1.0, logprob_mean=-0.6, logprob_min=-4.0, agree=0.0)
    assert m.generated.probability(easy_words) > m.generated.probability(hard_words)


def test_a_signal_far_outside_the_fitting_set_does_not_decide_alone() -> None:
    """Another embedder's cosines, or a document unlike any seen: each standardised signal is clipped to ±CLIP."""
    n = len(Features.names())
    by_dense = Logistic(tuple(1.0 if f == "dense" else 0.0 for f in Features.names()), 0.0, (0.9,) * n, (0.01,) * n)
    far, at_the_edge = features(dense=0.0), features(dense=0.9 - CLIP * 0.01)
    assert by_dense.probability(far) == pytest.approx(by_dense.probability(at_the_edge))
    assert by_dense.probability(far) == pytest.approx(1 / (1 + math.exp(CLIP)))


def test_a_quote_cut_from_a_long_sentence_says_where_it_was_cut() -> None:
    long = (
        "Cùng với đó, Văn phòng Quốc hội cũng sẽ tham mưu, phục vụ Quốc hội Việt Nam đăng cai tổ chức Hội nghị "
        "Nghị sĩ trẻ toàn cầu lần thứ 9, diễn ra tại Hà Nội; tham mưu, phục vụ Ủy ban Thường vụ Quốc hội tổ chức "
        "Phiên họp thứ 26 và Phiên họp chuyên đề pháp luật tháng 9/2023; tiếp tục kiện toàn nhân sự."
    )
    asked = "Hội nghị Nghị sĩ trẻ toàn cầu do Quốc hội Việt Nam đăng cai diễn ra ở đâu?"
    quoted = quote(Context.of(asked, asked, [0.9], lambda t: 1.0), passages(long), shipped())
    assert quoted is not None and "Hà Nội" in quoted.text
    assert quoted.text.startswith("“… ") and quoted.text.endswith(" …” [1]")  # an excerpt, and it says so
    whole = quote(Context.of(asked, asked, [0.9], lambda t: 1.0), passages(HOI_NGHI), shipped())
    assert whole is not None and "…" not in whole.text  # a short sentence is quoted as it stands

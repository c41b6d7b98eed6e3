"""The answer pipeline with a fake embedder and a scripted generator: verification, fallback, abstention, limits."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import CHECKS_ONLY, FakeEmbedder, FakeGenerator

from rag import indexing, store
from rag.answer import no_answer, standalone
from rag.config import Settings
from rag.errors import PromptError, QuestionError
from rag.pipeline import Pipeline
from rag.prompts import render
from rag.retrieve import Retriever
from rag.types import Answer, Draft
from rag.verify import check, entities, split_claims

DOCS = {
    "cong-van.txt": "Báo cáo công tác tháng 8/2023\n\n"
    "Trong tháng 8/2023, Văn phòng Quốc hội đã tiếp nhận và xử lý 30.087 công văn đến.\n"
    "Văn phòng Quốc hội cũng phát hành 2.232 công văn đi trong tháng.\n"
    "Cuộc họp giao ban do Chủ nhiệm Bùi Văn Cường chủ trì tại Hà Nội.",
    "thu-vien.txt": "Thư viện mở cửa buổi sáng\n\nThư viện mở cửa từ 8 giờ sáng các ngày trong tuần.\n"
    "Bạn đọc cần mang thẻ khi vào thư viện.\nKiểm kê năm nay không tìm thấy tài liệu nào bị mất.",
}


@pytest.fixture(scope="module")
def retriever(tmp_path_factory: pytest.TempPathFactory) -> Retriever:
    home = tmp_path_factory.mktemp("answers")
    for name, text in DOCS.items():
        (home / name).write_text(text, encoding="utf-8")
    embedder = FakeEmbedder()
    settings = Settings(home=home, index_dir=Path("index"), n_threads=1)
    indexing.update([home], embedder, settings)
    return Retriever(store.load(settings.index_path), embedder)


def pipeline(retriever: Retriever, *replies: str, **options: object) -> tuple[Pipeline, FakeGenerator]:
    generator = FakeGenerator(*replies)
    options = {"abstain_below": 0.0, "confidence": CHECKS_ONLY, **options}  # the fake embedder's cosines are not e5's
    return Pipeline(retriever, generator, **options), generator  # type: ignore[arg-type]


QUESTION = "Trong tháng 8/2023 Văn phòng Quốc hội tiếp nhận bao nhiêu công văn đến?"


def test_a_supported_reply_is_generated_with_its_citation(retriever: Retriever) -> None:
    p, gen = pipeline(retriever, "Văn phòng Quốc hội đã tiếp nhận 30.087 công văn đến [1].")
    answer = p.ask(QUESTION)
    assert answer.mode == "generated", answer.why
    assert answer.text == "Văn phòng Quốc hội đã tiếp nhận 30.087 công văn đến [1]."
    assert [c.doc for c in answer.citations] == ["cong-van.txt"]
    cited = answer.citations[0]
    document = retriever.index.documents[cited.doc_id].text
    assert "30.087 công văn đến" in cited.text
    assert " ".join(document[cited.start : cited.end].split()) == cited.text  # the span points at the quote
    prompt = gen.calls[0][1].content
    assert prompt.startswith("Đoạn trích:\n[1] Trong tháng 8/2023") and QUESTION in prompt  # no header by default


@pytest.mark.parametrize(
    ("headers", "first_line"),
    [
        ("title-date", "[1] Báo cáo công tác tháng 8/2023: Trong tháng 8/2023"),  # the fixture's files have no date
        ("title", "[1] Báo cáo công tác tháng 8/2023: Trong tháng 8/2023"),
        ("none", "[1] Trong tháng 8/2023, Văn phòng Quốc hội đã tiếp nhận"),
    ],
)
def test_the_passage_headers_setting_decides_what_precedes_each_passage(
    retriever: Retriever, headers: str, first_line: str
) -> None:
    p, gen = pipeline(retriever, "Văn phòng Quốc hội đã tiếp nhận 30.087 công văn đến [1].", headers=headers)
    answer = p.ask(QUESTION)
    prompt = gen.calls[0][1].content
    assert prompt.split("\n")[1].startswith(first_line)
    assert answer.mode == "generated", answer.why  # the check reads the passages as the model was shown them
    if headers == "none":
        assert "Báo cáo công tác" not in prompt


def test_a_citation_of_a_passage_that_does_not_exist_is_reattached(retriever: Retriever) -> None:
    p, _ = pipeline(retriever, "Văn phòng Quốc hội đã tiếp nhận 30.087 công văn đến [7].")
    answer = p.ask(QUESTION)
    assert answer.mode == "generated"
    assert answer.text.endswith("[1].") and "[7]" not in answer.text
    assert "re-attached" in answer.why and "dropped" in answer.why
    assert [c.n for c in answer.citations] == [1]


def test_a_number_found_in_no_passage_falls_back_to_quoting_the_evidence(retriever: Retriever) -> None:
    p, _ = pipeline(retriever, "Văn phòng Quốc hội đã tiếp nhận 45.000 công văn đến [1].")
    answer = p.ask(QUESTION)
    assert answer.mode == "extractive"
    assert (
        "45.000" not in answer.text
        and "“Trong tháng 8/2023, Văn phòng Quốc hội đã tiếp nhận và xử lý 30.087 công văn đến.”" in answer.text
    )
    quoted = answer.text.split("”")[0].lstrip("“")  # the short quote stands in the sentence it cites
    assert answer.citations and all(quoted in c.text for c in answer.citations)
    assert answer.reply.startswith("Văn phòng Quốc hội đã tiếp nhận 45.000")  # the draft is kept for inspection


def test_the_extractive_style_quotes_without_calling_the_model(retriever: Retriever) -> None:
    p, gen = pipeline(retriever, "Có 45.000 công văn [1].", style="extractive")
    answer = p.ask(QUESTION)
    assert answer.mode == "extractive" and "30.087 công văn đến" in answer.text and gen.calls == []


def test_a_refusal_abstains_without_citations(retriever: Retriever) -> None:
    p, _ = pipeline(retriever, "Các đoạn trích không đề cập đến thông tin này.")
    answer = p.ask(QUESTION)
    assert (answer.mode, answer.text, answer.citations) == ("abstained", no_answer(), ())


def test_refusal_words_in_a_supported_answer_do_not_make_it_an_abstention(retriever: Retriever) -> None:
    p, _ = pipeline(retriever, "Kiểm kê năm nay không tìm thấy tài liệu nào bị mất [1].")
    answer = p.ask("Thư viện có bị mất tài liệu nào không?")
    assert answer.mode == "generated" and answer.citations[0].doc == "thu-vien.txt", answer.why
    p, _ = pipeline(retriever, "Thư viện không có thông tin về giờ đóng cửa; thư viện mở cửa từ 8 giờ sáng [1].")
    assert p.ask("Thư viện mở cửa và đóng cửa lúc mấy giờ?").mode == "abstained"


def test_a_reply_that_is_only_a_marker_is_not_an_answer(retriever: Retriever) -> None:
    p, _ = pipeline(retriever, "[1]")
    assert p.ask(QUESTION).mode == "extractive"


def test_a_question_about_something_no_passage_mentions_abstains_without_the_model(retriever: Retriever) -> None:
    p, gen = pipeline(retriever, "Có 30.087 công văn đến [1].")
    answer = p.ask("Trong tháng 8/2019 Văn phòng Quốc hội tiếp nhận bao nhiêu công văn đến?")
    assert answer.mode == "abstained" and "8/2019" in answer.why
    assert gen.calls == []


def test_a_follow_up_is_not_refused_for_the_earlier_questions_missing_premise(retriever: Retriever) -> None:
    p, gen = pipeline(retriever, "Văn phòng Quốc hội phát hành 2.232 công văn đi [1].")
    earlier = "Trong tháng 8/2019 Văn phòng Quốc hội tiếp nhận bao nhiêu công văn đến?"
    assert p.ask(earlier).mode == "abstained"
    history = [("user", earlier), ("assistant", no_answer())]
    answer = p.ask("Còn tháng 8/2023 thì có bao nhiêu công văn đi?", history)  # type: ignore[arg-type]
    assert answer.mode == "generated" and len(gen.calls) == 1, answer.why


def test_a_count_of_something_no_passage_counts_abstains_without_the_model(retriever: Retriever) -> None:
    p, gen = pipeline(retriever, "Văn phòng Quốc hội đã tiếp nhận 30.087 công văn đến [1].")
    answer = p.ask("Trong tháng 8/2023 Văn phòng Quốc hội tiếp nhận bao nhiêu đơn thư?")
    assert answer.mode == "abstained" and "đơn" in answer.why and gen.calls == []
    assert p.ask("Trong tháng 8/2023 có bao nhiêu công văn đến?").mode == "generated"


def test_weak_retrieval_abstains_without_the_model(retriever: Retriever) -> None:
    p, gen = pipeline(retriever, "Có 30.087 công văn đến [1].", abstain_below=0.999)
    answer = p.ask(QUESTION)
    assert answer.mode == "abstained" and "cosine" in answer.why and gen.calls == []


def test_an_empty_question_is_refused_before_any_work(retriever: Retriever) -> None:
    p, gen = pipeline(retriever, "x")
    for question in ("", "   \n\t", "\u200b\u200b", "\ufeff ?!"):
        with pytest.raises(QuestionError, match="empty"):
            p.ask(question)
    assert gen.calls == []


def test_a_very_long_question_is_cut_with_a_notice(retriever: Retriever) -> None:
    p, gen = pipeline(retriever, "Văn phòng Quốc hội đã tiếp nhận 30.087 công văn đến [1].", max_question_chars=200)
    answer = p.ask(QUESTION + " " + "rất " * 2500)
    assert len(answer.question) == 200 and "200" in answer.notice
    assert len(gen.calls[0][1].content) < 2000


def test_the_stream_yields_the_quote_at_once_then_the_model_s_words_then_the_answer(retriever: Retriever) -> None:
    p, gen = pipeline(retriever, "Văn phòng Quốc hội đã tiếp nhận 30.087 công văn đến [1].")
    events = list(p.stream(QUESTION))
    draft, *pieces, final = events
    assert isinstance(draft, Draft) and isinstance(final, Answer) and all(isinstance(e, str) for e in pieces)
    assert "30.087" in draft.text and {c.doc for c in draft.citations} == {"cong-van.txt"}
    assert len(gen.calls) == 1 and len(pieces) > 2  # the draft came before the model was asked
    reply = "Văn phòng Quốc hội đã tiếp nhận 30.087 công văn đến [1]."
    assert "".join(pieces).split() == reply.split() and final.mode == "generated"  # the model's words replace it
    assert final.timings.first_token_ms <= final.timings.total_ms and final.timings.retrieval_ms > 0


def test_when_the_model_s_words_fail_the_draft_is_the_answer(retriever: Retriever) -> None:
    p, _ = pipeline(retriever, "Văn phòng Quốc hội đã tiếp nhận 99.999 công văn đến [1].")  # a figure of no passage
    draft, *_, final = list(p.stream(QUESTION))
    assert isinstance(draft, Draft) and isinstance(final, Answer)
    assert final.mode == "extractive" and (final.text, final.citations) == (draft.text, draft.citations)


def test_no_draft_when_the_question_is_declined_before_the_model(retriever: Retriever) -> None:
    p, gen = pipeline(retriever, "Không rõ.")
    events = list(p.stream("Năm 2019 Văn phòng Quốc hội mua bao nhiêu chiếc máy bay trực thăng?"))
    assert not any(isinstance(e, Draft) for e in events) and events[-1].mode == "abstained"  # type: ignore[union-attr]
    assert not gen.calls


def test_a_stream_left_unread_frees_the_model(retriever: Retriever) -> None:
    p, gen = pipeline(retriever, "Văn phòng Quốc hội đã tiếp nhận 30.087 công văn đến [1].")
    events = p.stream(QUESTION)
    assert isinstance(next(events), Draft) and isinstance(next(events), str)
    assert gen.open == 1
    events.close()
    assert gen.open == 0  # the model's own stream was closed, so its lock is free for the next question


def test_a_follow_up_is_joined_to_the_previous_question(retriever: Retriever) -> None:
    p, gen = pipeline(retriever, "Văn phòng Quốc hội phát hành 2.232 công văn đi [1].")
    history = [("user", QUESTION), ("assistant", "Văn phòng Quốc hội đã tiếp nhận 30.087 công văn đến [1].")]
    answer = p.ask("Còn công văn đi thì sao?", history)  # type: ignore[arg-type]
    assert answer.query == f"{QUESTION} Còn công văn đi thì sao?"
    assert answer.mode == "generated" and answer.citations[0].doc == "cong-van.txt"
    assert f"(Câu hỏi trước đó: {QUESTION})" in gen.calls[0][1].content


@pytest.mark.parametrize(
    ("question", "history", "query"),
    [
        ("Ông ấy giữ chức gì?", [("user", "Ai chủ trì cuộc họp?")], "Ai chủ trì cuộc họp? Ông ấy giữ chức gì?"),
        ("Thư viện mở cửa lúc mấy giờ vào các ngày trong tuần?", [("user", "Ai chủ trì cuộc họp?")], None),
        ("Còn công văn đi?", [], None),
    ],
)
def test_standalone(question: str, history: list[tuple[str, str]], query: str | None) -> None:
    assert standalone(question, history)[0] == (query or question)


def test_verification_checks_every_sentence() -> None:
    passages = ["Có 30.087 công văn đến.", "Có 2.232 công văn đi."]
    verdict = check("Có 30087 công văn đến [1]. Có 2.232 công văn đi [1].", passages, "Có bao nhiêu công văn?")
    assert verdict.ok and [c.cites for c in verdict.claims] == [(1,), (2,)]
    assert not check("Có 30.087 công văn đến [1]. Có 99 công văn đi [2].", passages, "?").ok


def test_names_must_occur_in_the_cited_passage() -> None:
    passages = ["Cuộc họp do ông Bùi Văn Cường chủ trì.", "Ông Vũ Khắc Định báo cáo."]
    assert check("Cuộc họp do ông Bùi Văn Cường chủ trì [1].", passages, "Ai chủ trì?").ok
    assert not check("Cuộc họp do ông Trần Thanh Mẫn chủ trì [1].", passages, "Ai chủ trì?").ok
    assert entities("Hôm nay Ông Trần Thanh Mẫn đến Hà Nội.") == ["Trần Thanh Mẫn", "Hà Nội"]


def test_markers_after_the_stop_stay_with_their_sentence() -> None:
    assert split_claims("Có 8 văn bản. [2] Và 3 báo cáo [1][3].") == [("Có 8 văn bản.", [2]), ("Và 3 báo cáo.", [1, 3])]


def test_a_marker_inside_a_marker_leaves_no_marker() -> None:
    # found by tests/reliability/test_properties.py: "[9[1]]" left "[9 ]", a citation never checked, in the text
    # shown, and a marker of 5,000 digits raised ValueError (Python parses at most 4,300)
    assert split_claims("Quốc hội có 499 đại biểu [9[1]].") == [("Quốc hội có 499 đại biểu.", [1, 9])]
    assert split_claims("Quốc hội có 499 đại biểu [" + "7" * 5000 + "].") == [("Quốc hội có 499 đại biểu.", [])]


def test_prompts_are_filled_strictly() -> None:
    with pytest.raises(PromptError, match="missing values \\['header'\\]"):
        render("passage", n=1, text="x")
    with pytest.raises(PromptError, match="unused values \\['extra'\\]"):
        render("refusal", extra=1)
    text = render("passage", n=2, header="Tiêu đề (2023-08-31): ", text="Giá $5 và ${x}.")
    assert text == "[2] Tiêu đề (2023-08-31): Giá $5 và ${x}."  # a document's "$" is data, not a variable
    system = render("system", refusal=no_answer())
    assert no_answer() in system and "$" not in system

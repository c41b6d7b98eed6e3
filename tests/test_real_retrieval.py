"""Real retrieval on the seeds: the converted e5, the real cleaning, chunking, FAISS and BM25."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import default_embedder

from rag import indexing, store
from rag.config import CHECKOUT, Settings
from rag.retrieve import Retriever

pytestmark = pytest.mark.real

# (question, gold seed document), written from the seeds.
QUESTIONS = [
    ("Văn phòng Quốc hội đã xây dựng bao nhiêu văn bản tham gia ý kiến trong tháng 8/2023?", "001"),
    ("Năm 2020 Quốc hội đã thông qua bao nhiêu luật và nghị quyết?", "003"),
    ("Năm 2021 Văn phòng Quốc hội triển khai bao nhiêu nhóm nhiệm vụ trọng tâm?", "003"),
    ("Ai báo cáo về công tác chuẩn bị Hội nghị tổng kết công tác năm 2023?", "002"),
    ("Chủ tịch Quốc hội Vương Đình Huệ đề nghị Văn phòng Quốc hội làm gì?", "004"),
    ("Vụ trưởng Vụ Tổng hợp Phan Thị Thùy Linh báo cáo về nội dung gì?", "000"),
]


@pytest.fixture(scope="module")
def retriever(real_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Retriever:
    embedder = default_embedder(real_settings)
    index_dir = tmp_path_factory.mktemp("real") / "index"
    settings = real_settings.model_copy(update={"index_dir": index_dir})
    report = indexing.update([CHECKOUT / "seeds"], embedder, settings)
    assert len(report.added) == 5 and report.skipped == []
    return Retriever(store.load(index_dir), embedder)


@pytest.mark.parametrize(("question", "gold"), QUESTIONS)
def test_gold_document_is_in_the_top_three(retriever: Retriever, question: str, gold: str) -> None:
    hits = retriever.search(question, k=3)
    assert gold in [Path(h.chunk.doc_id).name[:3] for h in hits], [h.chunk.doc_id for h in hits]


def test_navigation_lists_are_not_retrievable(retriever: Retriever) -> None:
    for hit in retriever.search("cao tốc Nam Định - Thái Bình", k=10):
        assert "Nam Định - Thái Bình" not in hit.chunk.text and "Tin cùng chuyên mục" not in hit.chunk.text


def test_chunk_spans_point_into_the_cleaned_documents(retriever: Retriever) -> None:
    index = retriever.index
    for chunk in index.chunks:
        assert index.documents[chunk.doc_id].text[chunk.start : chunk.end] == chunk.text

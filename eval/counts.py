"""What the "no passage counts it" abstention (`rag.answer.uncounted`) costs on text it was not written for.

Every XQuAD-vi question is answerable and its gold paragraph is known, so a count question
("bao nhiêu X", "mấy X") that `uncounted` would decline even with its gold paragraph as the
only evidence is a false abstention the rule causes. No models are needed.

    .venv/bin/python -m eval.counts --data ../shared/data/xquad_vi
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from rag.answer import COUNT, uncounted
from rag.text import fold
from rag.types import Chunk


def declined(data: Path) -> tuple[int, list[tuple[str, str, str]]]:
    """(count questions, [(question, gold answer, the thing found uncounted)]) over XQuAD-vi."""
    asked = 0
    wrong: list[tuple[str, str, str]] = []
    for line in (data / "questions.jsonl").read_text(encoding="utf-8").splitlines():
        q = json.loads(line)
        if not COUNT.search(fold(q["question"])):
            continue
        asked += 1
        text = (data / "corpus_contexts" / q["source_context"]).read_text(encoding="utf-8")
        paragraph = Chunk(q["source_context"], q["source_context"], "", None, 0, len(text), text)
        if thing := uncounted(q["question"], [paragraph]):
            wrong.append((q["question"], q["answers"][0], thing))
    return asked, wrong


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.counts", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/xquad_vi"), help="the xquad_vi folder")
    args = parser.parse_args(argv)
    if not (args.data / "questions.jsonl").is_file():
        parser.error(f"no questions.jsonl in {args.data}; point --data at the xquad_vi folder")
    asked, wrong = declined(args.data)
    for question, gold, thing in wrong:
        print(f"declined: {question}  (gold: {gold}; uncounted: {thing})")
    print(f"{len(wrong)} of {asked} count questions declined with their gold paragraph ({len(wrong) / asked:.1%})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

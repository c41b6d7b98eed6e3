"""Prompt files (`rag/prompts/*.md`), loaded as package data and filled strictly.

A template names its variables as `$name`. `render` raises `PromptError` when a variable
the template uses is not given, and when a value is given that the template never uses
(a renamed variable in an edited file must not silently drop the passages). Values are
inserted as they are: `$` inside a document's text is not read as a variable, with one
exception. The chat template's control tokens written as text (`<|im_start|>`, `<|eot_id|>`,
`</s>`, `[INST]`, ...) are defused: llama.cpp tokenizes the formatted prompt with special
tokens enabled, so a document or a question holding `<|im_end|><|im_start|>system` would
otherwise open a real system turn. A zero-width joiner after the opening bracket keeps the
text readable and makes it plain text to every tokenizer.

>>> render("passage", n=1, header="Báo cáo (2023-08-31): ", text="Có 8 văn bản.")
'[1] Báo cáo (2023-08-31): Có 8 văn bản.'
>>> defuse("<|im_end|>x</s>") == "<\u200d|im_end|>x<\u200d/s>"
True
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from string import Template

from rag.errors import PromptError

# Control tokens of the chat templates llama.cpp knows: ChatML/Qwen, Llama 3, Phi (<|...|>), Gemma,
# Llama 2 / Mistral. Matched case-insensitively; a lone "<" or "[" in a text is left alone.
CONTROL_TOKEN = re.compile(
    r"<(?=\|[^<>|\s]{1,40}\|>)|<(?=/?s>)|<(?=(?:start|end)_of_turn>)|<(?=/?(?:bos|eos|pad|unk)>)|\[(?=/?INST\])",
    re.IGNORECASE,
)


def defuse(text: str) -> str:
    """`text` with every control-token look-alike broken by a zero-width joiner after its first character."""
    return CONTROL_TOKEN.sub(lambda m: m.group(0) + "\u200d", text)


@cache
def template(name: str) -> Template:
    try:
        text = resources.files("rag").joinpath("prompts", f"{name}.md").read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PromptError(f"no prompt file rag/prompts/{name}.md; reinstall the package.") from None
    return Template(text.rstrip("\n"))


def render(name: str, **values: object) -> str:
    """The prompt `name` with every `$variable` replaced; missing or unused values raise `PromptError`."""
    tmpl = template(name)
    wanted = set(tmpl.get_identifiers())
    missing, unused = wanted - values.keys(), values.keys() - wanted
    if missing or unused:
        raise PromptError(
            f"prompt {name}.md: missing values {sorted(missing)}, unused values {sorted(unused)}; "
            "the prompt file and the code disagree."
        )
    return tmpl.substitute({k: defuse(str(v)) for k, v in values.items()})

"""Prompt files (`rag/prompts/*.md`), loaded as package data and filled strictly.

A template names its variables as `$name`. `render` raises `PromptError` when a variable
the template uses is not given, and when a value is given that the template never uses
(a renamed variable in an edited file must not silently drop the passages). Values are
inserted as they are: `$` inside a document's text is not read as a variable.

>>> render("passage", n=1, title="Báo cáo", date=" (2023-08-31)", text="Có 8 văn bản.")
'[1] Báo cáo (2023-08-31): Có 8 văn bản.'
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from string import Template

from rag.errors import PromptError


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
    return tmpl.substitute({k: str(v) for k, v in values.items()})

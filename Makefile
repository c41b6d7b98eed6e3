# Two commands do all the set-up on a fresh machine (see README.md):
#   make run    virtual env + project + default models + index of seeds/, then the chat on http://127.0.0.1:7860
#   make test   the same installs and Debian's chromium, then the whole test suite (what .ci/run calls)
# Both are idempotent: pip runs again only when pyproject.toml or scripts/llama_build.py changed, and
# `rag models install` re-checks installed models instead of downloading them again.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.rag-installed

SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test test-fast models lint chromium readers

# A venv whose creation failed half-way is removed, so the next run starts it again.
$(BIN)/pip:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "Python 3.11 is needed; run make PYTHON=/path/to/python3.11")'
	$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); exit 1; }

# torch first, pinned: the CPU build lies on disk; an unpinned torch pulls a CUDA build.
# llama-cpp-python compiles from source for this CPU (about 10-14 min on 2 cores, once per CPU: the wheel is kept
# under a key of the CPU's instruction flags, never in pip's cache; RAG_LLAMA_BUILD=portable for the AVX2 build).
$(STAMP): pyproject.toml scripts/llama_build.py | $(BIN)/pip
	$(BIN)/python -m pip install --disable-pip-version-check 'pip>=25,<27'
	$(BIN)/python -m pip install --disable-pip-version-check torch==2.13.0
	$(BIN)/python scripts/llama_build.py
	$(BIN)/python -m pip install --disable-pip-version-check -e '.[dev]'
	touch $@

models: $(STAMP)
	$(BIN)/rag models install

# The document tools from Debian: Tesseract and its Vietnamese model (scanned pages), antiword and catdoc (.doc).
READER_PACKAGES := tesseract-ocr tesseract-ocr-vie antiword catdoc
readers:
	@command -v tesseract >/dev/null && command -v antiword >/dev/null && command -v catdoc >/dev/null && \
	  tesseract --list-langs 2>/dev/null | grep -qx vie || { echo "installing Debian's $(READER_PACKAGES)"; \
	  $(SUDO) apt-get install -y --no-install-recommends $(READER_PACKAGES) || \
	  { $(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends $(READER_PACKAGES); }; }

run: models readers
	$(BIN)/rag index seeds
	$(BIN)/python app.py

# The browser tests drive Debian's chromium (no browser download: only Debian packages are reachable);
# one test of the OpenAI-compatible endpoint calls it with plain curl.
chromium:
	@command -v chromium >/dev/null && command -v curl >/dev/null || { echo "installing Debian's chromium and curl for the tests"; \
	  $(SUDO) apt-get install -y --no-install-recommends chromium curl || \
	  { $(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends chromium curl; }; }

# The tests use the manifest's default models, whatever RAG_LLM / rag.toml choose for the chat.
test: $(STAMP) chromium readers
	$(BIN)/rag models install --defaults
	$(MAKE) --no-print-directory lint
	$(BIN)/python -m pytest

test-fast: $(STAMP) chromium readers
	$(BIN)/python -m pytest -m 'not real'

lint: $(STAMP)
	$(BIN)/ruff check rag tests app.py scripts eval bench
	$(BIN)/ruff format --check rag tests app.py scripts eval bench
	$(BIN)/mypy

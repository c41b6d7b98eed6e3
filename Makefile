# Two commands do all the set-up on a fresh machine (see README.md):
#   make run    virtual env + project + default models (+ index + chat, once those land)
#   make test   the same installs, then the whole test suite (what .ci/run calls)
# Both are idempotent: pip runs again only when pyproject.toml changed, and
# `rag models install` re-checks installed models instead of downloading them again.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.rag-installed

.PHONY: run test test-fast models lint

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is needed; set PYTHON=/path/to/python3.11"'
	$(PYTHON) -m venv $(VENV)

# torch first, pinned: the CPU build lies on disk; an unpinned torch pulls a CUDA build.
# llama-cpp-python compiles from source (about 10-14 min on 2 cores; pip caches the wheel).
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --disable-pip-version-check torch==2.13.0
	CMAKE_ARGS="-DGGML_NATIVE=OFF" $(BIN)/python -m pip install --disable-pip-version-check -e '.[dev]'
	touch $@

models: $(STAMP)
	$(BIN)/rag models install

run: models
	$(BIN)/python app.py

test: models
	$(BIN)/python -m pytest

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m 'not real'

lint: $(STAMP)
	$(BIN)/ruff check rag tests app.py
	$(BIN)/ruff format --check rag tests app.py
	$(BIN)/mypy

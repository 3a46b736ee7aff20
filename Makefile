# streamocr: `make demo` sets up .venv and runs the main job on the built-in sample;
# `make test` sets up .venv and runs the whole test suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench eval lint train clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "streamocr needs Python 3.11+"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/streamocr run --out out/demo.mp4 --jsonl out/demo.jsonl --no-display
	@echo "annotated video: out/demo.mp4, per-frame results: out/demo.jsonl"

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m bench

eval: $(STAMP)
	$(BIN)/streamocr eval ../shared/data/sudoku_photos/v2_train --split validation
	$(BIN)/streamocr eval ../shared/data/sudoku_photos/mixed_train --split validation

lint: $(STAMP)
	$(BIN)/ruff check streamocr tests bench
	$(BIN)/ruff format --check streamocr tests bench
	$(BIN)/mypy

train: $(STAMP)
	$(BIN)/pip install --quiet -e '.[train]'
	$(BIN)/python -m streamocr.training.train

clean:
	rm -rf $(VENV) out .pytest_cache

# The two commands a fresh machine needs: `make repro` (the main job) and `make test`.
# Both create the virtual environment and install the project on first use.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: install repro test test-slow lint

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[generate,bench,baselines,mace,dev]'
	touch $(INSTALLED)

install: $(INSTALLED)

repro: $(INSTALLED)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/dvc repro

test: $(INSTALLED)
	$(BIN)/pytest -q

test-slow: $(INSTALLED)
	$(BIN)/pytest -q -m slow

lint: $(INSTALLED)
	$(BIN)/ruff check harness models tests

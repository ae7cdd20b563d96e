# The two commands a fresh machine needs: `make repro` (the main job) and `make test`.
# Both create the virtual environment and install the project on first use.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

EXTRAS := generate,bench,baselines,mace,dev
FRESH := .venv-constraints

.PHONY: install repro test test-slow lint constraints

# constraints.txt pins every package to the versions the committed numbers were made with.
$(INSTALLED): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --constraint constraints.txt -e '.[$(EXTRAS)]'
	touch $(INSTALLED)

# The newest releases pyproject.toml allows, frozen (torch without its +cpu build label, so
# that CUDA builds satisfy it too).
constraints:
	rm -rf $(FRESH) && $(PYTHON) -m venv $(FRESH)
	$(FRESH)/bin/python -m pip install --quiet --upgrade pip
	$(FRESH)/bin/python -m pip install --quiet -e '.[$(EXTRAS)]'
	{ grep '^#' constraints.txt; $(FRESH)/bin/python -m pip freeze --exclude-editable \
		| sed 's/^\(torch==[^+]*\)+.*/\1/'; } > constraints.txt.new
	mv constraints.txt.new constraints.txt && rm -rf $(FRESH)

install: $(INSTALLED)

repro: $(INSTALLED)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/dvc repro

test: $(INSTALLED)
	$(BIN)/pytest -q

test-slow: $(INSTALLED)
	$(BIN)/pytest -q -m slow

lint: $(INSTALLED)
	$(BIN)/ruff check harness models tests

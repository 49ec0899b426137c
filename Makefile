# Two commands for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml requirements/pinned.txt | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements/pinned.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

install: $(STAMP)

lint: install
	$(BIN)/ruff check .

test: install lint
	$(BIN)/python -m pytest -q -n 2 --doctest-modules src tests

demo: install
	$(BIN)/python -m rnnkit.demo

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

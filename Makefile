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
	@command -v c++ >/dev/null || echo "note: no C++ compiler found; rnnkit's C++ scan kernels" \
		"fall back to torch operators (install one with: apt-get install g++)"
	touch $@

install: $(STAMP)

lint: install
	$(BIN)/ruff check .

test: install lint
	$(BIN)/python -m pytest -q -n 2 --doctest-modules src tests

# The main job: fetch Shakespeare (once, verified), train a small character LSTM for about
# two minutes of CPU time, then write text from the checkpoint it saved.
demo: install
	$(BIN)/rnnkit data fetch shakespeare
	$(BIN)/rnnkit train --config configs/shakespeare_char.toml
	$(BIN)/rnnkit sample --checkpoint runs/shakespeare_char --prime "HAMLET." --length 400 --temperature 0.8 --seed 1

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

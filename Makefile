# Two commands for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint install clean music music-tools mutation

# Debian packages for `rnnkit music`: abc2midi (ABC -> MIDI), timidity with the FreePats
# patches (MIDI -> WAV). Installed with apt-get, through sudo when not root.
MUSIC_PACKAGES := abcmidi timidity freepats
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

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

music-tools:
	@if command -v abc2midi >/dev/null && command -v timidity >/dev/null \
		&& [ -f /etc/timidity/freepats.cfg ]; then \
		echo "music tools: abc2midi and timidity (FreePats) are installed"; \
	else \
		$(SUDO) apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			$(MUSIC_PACKAGES); \
	fi

test: install lint music-tools
	$(BIN)/python -m pytest -q -n 2 --doctest-modules src tests

# Mutation testing (docs/testing-mutation.md): slow, so apart from `make test`. mutmut
# (configured in pyproject.toml) runs each scope below in turn, then the kill rates are
# printed per module. A scope is label=mutant-name patterns; layers/base.py is mutated whole
# but only its dispatch functions are run and counted. Rerun one module with e.g.
#   make mutation MUTATION_SCOPE='schedule=rnnkit.training.schedule.*' MUTATION_CLEAN=0
comma := ,
empty :=
space := $(empty) $(empty)
MUTATION_CHILDREN ?= 2
MUTATION_CLEAN ?= 1
DISPATCH := $(foreach f,fused_blocker engine_blocker backend_for native_blocker _settings \
	_run _run_unfused,rnnkit.layers.base.x?RecurrentLayer?$(f)__mutmut_*) \
	rnnkit.layers.base.x__one_cpu_step__mutmut_*
MUTATION_SCOPE ?= clipping=rnnkit.training.clipping.* schedule=rnnkit.training.schedule.* \
	generate=rnnkit.generate.* dispatch=$(subst $(space),$(comma),$(strip $(DISPATCH))) \
	factory=rnnkit.layers.factory.* fused=rnnkit.layers.fused.* explain=rnnkit.layers.explain.* \
	tasks=rnnkit.training.tasks.* metrics=rnnkit.training.metrics.*

mutation: install
	@set -f; start=$$(date +%s); [ "$(MUTATION_CLEAN)" = 0 ] || rm -rf mutants; \
	for scope in $(MUTATION_SCOPE); do \
		echo "== $${scope%%=*}"; \
		OMP_NUM_THREADS=1 $(BIN)/mutmut run --max-children $(MUTATION_CHILDREN) \
			$$(echo "$${scope#*=}" | tr , ' ') | tr '\r' '\n' | tail -n 3 || exit 1; \
	done; \
	$(BIN)/python tools/mutation_report.py $(MUTATION_SCOPE) --survivors; \
	echo "make mutation took $$(( $$(date +%s) - start )) s"

# The main job: fetch Shakespeare (once, verified), train a small character LSTM for about
# two minutes of CPU time, then write text from the checkpoint it saved.
demo: install
	$(BIN)/rnnkit data fetch shakespeare
	$(BIN)/rnnkit train --config configs/shakespeare_char.toml --overwrite
	$(BIN)/rnnkit sample --checkpoint runs/shakespeare_char --prime "HAMLET." --length 400 --temperature 0.8 --seed 1

# Music generation (docs/music.md): train the small Irish-tune model (about 3.5 minutes on
# 2 CPU cores), then write 10 tunes as ABC, MIDI, WAV and piano rolls, with a summary.
music: install music-tools
	$(BIN)/rnnkit data fetch irish_abc
	$(BIN)/rnnkit music train --config configs/irish_folk_small.toml --overwrite
	$(BIN)/rnnkit music generate --checkpoint runs/irish_folk_small --n 10 --seed 0 \
		--out runs/irish_folk_small/tunes

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

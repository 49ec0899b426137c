# Two commands for a fresh machine: `make demo` and `make test`.
#
# Every install comes from requirements/*.lock, each file pinned and checked against its sha256
# (pip --require-hashes); `make lock` regenerates the locks from requirements/pinned.txt and
# pyproject.toml. The locks are for Linux x86_64, CPython 3.11 and torch's CPU build (README).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# The locked files, downloaded once per lock and checked against its hashes, outside the
# checkout so that fresh clones on the same machine reuse them (pip's own HTTP cache keeps
# nothing here). Every install below reads only this folder: --no-index, hashes required.
WHEELHOUSE ?= $(HOME)/.cache/rnnkit/wheelhouse
LOCK_ID    := $(shell cat requirements/dev.lock requirements/build.lock 2>/dev/null | sha256sum | cut -c1-16)
WHEELS     := $(WHEELHOUSE)/.complete-$(LOCK_ID)
LOCKED     := --no-index --find-links $(WHEELHOUSE) --require-hashes

# `make test` runs against an installed wheel, in a virtual environment made afresh each time.
CHECK := build/wheel-check

# The playground's vendored JavaScript (web-vendor below); its versions file stands for it.
VENDORED := src/rnnkit/export/web/vendor/versions.json

.PHONY: demo test lint install lock wheel-check clean music music-tools mutation web-vendor browser \
	reproduce

$(WHEELS): requirements/dev.lock requirements/build.lock
	mkdir -p $(WHEELHOUSE)
	$(PYTHON) -m pip download --quiet --no-deps --require-hashes --dest $(WHEELHOUSE) \
		-r requirements/dev.lock -r requirements/build.lock
	touch $@

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# The development environment (`make demo`, `make lint`, editing src/): dev.lock, then rnnkit
# itself in editable mode, built with the locked setuptools instead of an unpinned isolated one.
$(STAMP): pyproject.toml requirements/dev.lock $(WHEELS) | $(BIN)/python
	$(BIN)/pip install --quiet $(LOCKED) -r requirements/dev.lock
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	@command -v c++ >/dev/null || echo "note: no C++ compiler found; rnnkit's C++ scan kernels" \
		"fall back to torch operators (install one with: apt-get install g++)"
	touch $@

install: $(STAMP) $(VENDORED)

# The playground's JavaScript (rnnkit web): onnxruntime-web and abcjs, installed from the npm
# registry at the versions and integrity hashes web/package-lock.json pins (npm ci, no install
# scripts), then the files the page loads copied into the package (tools/vendor_web.py), so
# that the wheel carries them and the page never fetches them.
$(VENDORED): web/package.json web/package-lock.json tools/vendor_web.py
	npm ci --prefix web --ignore-scripts --no-audit --no-fund --loglevel=error
	$(PYTHON) tools/vendor_web.py

web-vendor: $(VENDORED)

# Debian's chromium, for the playground's page tests (Playwright drives it; no browser is
# downloaded). Installed with apt-get, through sudo when not root, like the music tools.
browser:
	@if command -v chromium >/dev/null; then \
		echo "browser: $$(chromium --version 2>/dev/null | head -1)"; \
	else \
		$(SUDO) apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			chromium; \
	fi

lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports

# After editing requirements/pinned.txt or pyproject.toml's dependencies: one command that
# regenerates all three locks (a few minutes: pip-compile resolves against the indexes and
# hashes every file). runtime.lock is what a user's `pip install rnnkit` resolves, pinned;
# dev.lock adds the test, lint and export tools at runtime.lock's versions (-c);
# build.lock is what builds the wheel, and seqeval's sdist (setup_requires setuptools_scm; it
# has no wheel), so that the installs need no index. Commit the three with the change.
LOCK_TOOLS := build/lock-tools
COMPILE = CUSTOM_COMPILE_COMMAND="make lock" $(LOCK_TOOLS)/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
	--no-emit-index-url --no-emit-find-links
lock:
	test -x $(LOCK_TOOLS)/bin/pip-compile || { $(PYTHON) -m venv $(LOCK_TOOLS) && \
		$(LOCK_TOOLS)/bin/pip install --quiet pip==26.3 pip-tools==7.6.2; }
	$(COMPILE) -c requirements/pinned.txt -o requirements/runtime.lock pyproject.toml
	$(COMPILE) --all-extras -c requirements/runtime.lock -o requirements/dev.lock \
		pyproject.toml requirements/pinned.txt
	printf 'build\nsetuptools\nsetuptools-scm\nwheel\n' | $(COMPILE) -c requirements/dev.lock \
		-o requirements/build.lock -

# Install rnnkit as a user would and run it from there (.ci/check-wheel): the wheel, built
# from build.lock's tools, goes into a fresh virtual environment with runtime.lock's
# dependencies only; rnnkit --help, the C++ kernels built from the installed sources, 20
# training steps, eval and sample then run from a folder outside the checkout.
wheel-check: $(WHEELS) $(VENDORED)
	WHEELHOUSE=$(WHEELHOUSE) PYTHON=$(PYTHON) CHECK=$(CHECK) .ci/check-wheel

music-tools:
	@if command -v abc2midi >/dev/null && command -v timidity >/dev/null \
		&& [ -f /etc/timidity/freepats.cfg ]; then \
		echo "music tools: abc2midi and timidity (FreePats) are installed"; \
	else \
		$(SUDO) apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			$(MUSIC_PACKAGES); \
	fi

# The suite runs in the wheel check's environment, against the installed wheel (not src/):
# dev.lock tops it up with the test tools (the runtime packages are already there, at the
# same versions), and the C++ kernels the wheel check built are reused, not built again.
# --pyargs rnnkit collects the installed modules' doctests. Under CI (tests/conftest.py) a
# kernel build that fails where a compiler exists stops the run at once, and a skipped test
# fails it unless the reason is on the short allowed list (no GPU).
test: wheel-check music-tools browser
	$(CHECK)/venv/bin/pip install --quiet $(LOCKED) -r requirements/dev.lock
	$(CHECK)/venv/bin/ruff check .
	$(CHECK)/venv/bin/lint-imports
	RNNKIT_TEST_INSTALLED=1 TORCH_EXTENSIONS_DIR=$(CURDIR)/$(CHECK)/torch_extensions \
		$(CHECK)/venv/bin/python -m pytest -q -n 2 --durations=15 --doctest-modules --pyargs rnnkit tests

# Debian packages for `rnnkit music`: abc2midi (ABC -> MIDI), timidity with the FreePats
# patches (MIDI -> WAV). Installed with apt-get, through sudo when not root.
MUSIC_PACKAGES := abcmidi timidity freepats
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Mutation testing (docs/testing-mutation.md): slow, so apart from `make test`. mutmut
# (configured in pyproject.toml) runs each scope below in turn, then the kill rates are
# printed per module. A scope is label=mutant-name patterns; layers/base.py and
# layers/dispatch.py are mutated whole but only the choice of a path is run and counted. Rerun one module with e.g.
#   make mutation MUTATION_SCOPE='schedule=rnnkit.training.schedule.*' MUTATION_CLEAN=0
comma := ,
empty :=
space := $(empty) $(empty)
MUTATION_CHILDREN ?= 2
MUTATION_CLEAN ?= 1
DISPATCH := $(foreach f,fused_blocker engine_blocker backend_for native_blocker,$\
	rnnkit.layers.base.x?RecurrentLayer?$(f)__mutmut_*) \
	$(foreach f,choose_backend run_padded _run_unfused one_cpu_step fused_settings,$\
	rnnkit.layers.dispatch.x_$(f)__mutmut_*)
MUTATION_SCOPE ?= clipping=rnnkit.training.clipping.* schedule=rnnkit.training.schedule.* \
	generate=rnnkit.generate.* dispatch=$(subst $(space),$(comma),$(strip $(DISPATCH))) \
	factory=rnnkit.layers.factory.* fused=rnnkit.layers.fused.* explain=rnnkit.layers.explain.* \
	resume=rnnkit.training.resume.* metrics=rnnkit.metrics.language.* \
	trainer=rnnkit.training.trainer.* checkpoint=rnnkit.training.checkpoint.* \
	stopping=rnnkit.training.stopping.* optimizers=rnnkit.training.optimizers.* \
	prepare=rnnkit.training.prepare.* trained_module=rnnkit.training.trained_module.*
# Survivors whose tests run the code in child processes (torchrun ranks, an interrupted CLI
# run), which mutmut cannot trace: mutant patterns=tests, run by
# tools/mutation_rerun.py after mutmut.
TRAINER := rnnkit.training.trainer
DDP_TESTS := tests/training/test_distributed.py::test_resume_under_ddp_continues_exactly,$\
	tests/training/test_distributed.py::test_a_world_size_that_does_not_divide_the_batch_is_refused
MUTATION_OUT_OF_PROCESS ?= \
	rnnkit.training.resume.x_save_run__*,rnnkit.training.prepare.x_prepare_run__*,$\
	rnnkit.training.trained_module.x_trained_module__*=$(DDP_TESTS) \
	$(TRAINER).x__stop_if_interrupted__*=$\
	tests/training/test_run_folder.py::test_ctrl_c_saves_latest_and_resume_goes_on_exactly \
	rnnkit.training.checkpoint.x__pause_for_tests__*=$\
	tests/training/test_run_folder.py::test_a_second_ctrl_c_inside_that_save_leaves_the_previous_one

mutation: install
	@set -f; start=$$(date +%s); [ "$(MUTATION_CLEAN)" = 0 ] || rm -rf mutants; \
	for scope in $(MUTATION_SCOPE); do \
		echo "== $${scope%%=*}"; \
		OMP_NUM_THREADS=1 $(BIN)/mutmut run --max-children $(MUTATION_CHILDREN) \
			$$(echo "$${scope#*=}" | tr , ' ') | tr '\r' '\n' | tail -n 3 || exit 1; \
	done; \
	$(BIN)/python tools/mutation_rerun.py $(MUTATION_OUT_OF_PROCESS) || exit 1; \
	$(BIN)/python tools/mutation_report.py $(MUTATION_SCOPE) --survivors; \
	echo "make mutation took $$(( $$(date +%s) - start )) s"

# The main job: fetch Shakespeare (once, verified), train a small character LSTM for about
# two minutes of CPU time, write text from the checkpoint it saved, then the playground page
# that runs it in a browser (docs/playground.md).
demo: install
	$(BIN)/rnnkit data fetch shakespeare
	$(BIN)/rnnkit train --config shakespeare_char --overwrite
	$(BIN)/rnnkit sample --checkpoint runs/shakespeare_char --prime "HAMLET." --length 400 --temperature 0.8 --seed 1
	$(BIN)/rnnkit web --checkpoint runs/shakespeare_char --out runs/shakespeare_char_web

# The short figures rerun (docs/results.md, "Reproducing the short figures"): the demo recipe,
# a two-minute classification and tagging run and the gradient probe, one thread each, two at
# a time, each printed next to its documented mean and the tolerance its seeds allow. Exits 1
# if a figure lands outside. Runs go to runs/reproduce/.
reproduce: install
	$(BIN)/rnnkit data fetch shakespeare
	$(BIN)/rnnkit data fetch rotten_tomatoes
	$(BIN)/rnnkit data fetch wnut16
	$(BIN)/python experiments/reproduce.py --jobs 2

# Music generation (docs/music.md): train the small Irish-tune model (about 3.5 minutes on
# 2 CPU cores), then write 10 tunes as ABC, MIDI, WAV and piano rolls, with a summary.
music: install music-tools
	$(BIN)/rnnkit data fetch irish_abc
	$(BIN)/rnnkit music train --config irish_folk_small --overwrite
	$(BIN)/rnnkit music generate --checkpoint runs/irish_folk_small --n 10 --seed 0 \
		--out runs/irish_folk_small/tunes
	$(BIN)/rnnkit web --checkpoint runs/irish_folk_small --out runs/irish_folk_small_web

clean:
	rm -rf $(VENV) $(CHECK) $(LOCK_TOOLS) .pytest_cache .ruff_cache web/node_modules \
		src/rnnkit/export/web/vendor

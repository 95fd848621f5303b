# Two commands set everything up on a fresh machine:
#   make demo   - create the environment, then run the whole pipeline on songs it makes itself
#   make test   - create the environment, install system packages the tests use, lint, run the tests
# Quick local runs, no root and no system packages:
#   make lint       - ruff (lint and format) and mypy, as `make test` runs them
#   make test-fast  - the tests that need no Chromium, PostgreSQL, real music or Ray, and are not slow
VENV ?= .venv
PYTHON ?= python3
STAMP := $(VENV)/.installed
# Real, freely licensed songs for the real-music tests and benchmarks: the shared fetch script
# when this checkout has one beside it (then a failed fetch fails the tests); without it the
# real-music tests are skipped with the reason
MUSIC_FETCH ?= $(wildcard $(abspath ../shared/music/fetch.sh))
PYTEST_ARGS ?=
# The tests `make test-fast` leaves out: each needs a system package, real music or Ray, or takes long
FAST_MARKERS := not browser and not postgres and not real_music and not slow and not ray

.PHONY: demo test test-fast lint venv system-deps bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	# the CPU build of torch first, so nothing can pull a CUDA build
	$(VENV)/bin/pip install -q torch==2.13.0
	$(VENV)/bin/pip install -q -e '.[dev]'
	# compile librosa's numba code once now, so the first analysis a user runs is fast
	$(VENV)/bin/python -c "from rl_editor.audio.analyze import warm_up; print(f'audio analysis warmed up in {warm_up():.0f} s')"
	touch $(STAMP)

venv: $(STAMP)

system-deps:
	bash scripts/install-system-deps.sh

demo: venv
	$(VENV)/bin/rl-editor demo

lint: venv
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/mypy src

test: venv system-deps lint
	RL_EDITOR_MUSIC_FETCH=$(MUSIC_FETCH) OMP_NUM_THREADS=1 $(VENV)/bin/pytest $(PYTEST_ARGS)

test-fast: venv
	OMP_NUM_THREADS=1 $(VENV)/bin/pytest -m "$(FAST_MARKERS)" $(PYTEST_ARGS)

bench: venv
	RL_EDITOR_MUSIC_FETCH=$(MUSIC_FETCH) bash benchmarks/run_all.sh

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache test-artifacts

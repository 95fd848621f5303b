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
# Files `ruff format` keeps formatted (checked by `make lint`). The rest of the tree is wrapped by
# hand; a new module joins this list, and a file leaves the hand-wrapped rest once it is reformatted.
FORMATTED := \
	tests/security/test_song_library.py \
	tests/security/test_tokens.py \
	tests/security/test_listening_claims.py \
	tests/feedback/test_admin_actions.py \
	src/rl_editor/feedback/admin_routes.py \
	tests/feedback/test_import_limits.py \
	tests/feedback/test_prefetch.py \
	tests/browser/test_prefetch_pages.py \
	src/rl_editor/rlhf/acceptance.py \
	tests/rlhf/test_acceptance.py \
	benchmarks/bench_beats.py \
	benchmarks/bench_beats_fof.py \
	tests/audio/test_beat_level.py \
	benchmarks/bench_online_selection.py \
	benchmarks/bench_rater_audio.py \
	benchmarks/bench_screening.py \
	benchmarks/taste_headroom.py \
	src/rl_editor/audio/content.py \
	src/rl_editor/rlhf/distill.py \
	tests/rlhf/test_distill.py \
	tests/rlhf/test_what_changed.py \
	tests/security/security_helpers.py \
	src/rl_editor/__init__.py \
	src/rl_editor/audio/__init__.py \
	src/rl_editor/audio/align.py \
	src/rl_editor/audio/beats_madmom.py \
	src/rl_editor/audio/cache.py \
	src/rl_editor/audio/feature_layout.py \
	src/rl_editor/audio/jumps.py \
	src/rl_editor/audio/load.py \
	src/rl_editor/audio/song.py \
	src/rl_editor/cli.py \
	src/rl_editor/config.py \
	src/rl_editor/edit.py \
	src/rl_editor/errors.py \
	src/rl_editor/feedback/__init__.py \
	src/rl_editor/feedback/auth.py \
	src/rl_editor/feedback/command_options.py \
	src/rl_editor/feedback/commands.py \
	src/rl_editor/feedback/exchange_commands.py \
	src/rl_editor/feedback/listening.py \
	src/rl_editor/feedback/log_redaction.py \
	src/rl_editor/feedback/migrations \
	src/rl_editor/feedback/models.py \
	src/rl_editor/feedback/online.py \
	src/rl_editor/feedback/screening.py \
	src/rl_editor/feedback/settings.py \
	src/rl_editor/feedback/store/headphones.py \
	src/rl_editor/feedback/store/must_listen.py \
	src/rl_editor/feedback/task_commands.py \
	src/rl_editor/formats.py \
	src/rl_editor/generate/__init__.py \
	src/rl_editor/generate/diversity.py \
	src/rl_editor/io_utils.py \
	src/rl_editor/lazy.py \
	src/rl_editor/policy/__init__.py \
	src/rl_editor/policy/config.py \
	src/rl_editor/policy/episode_log.py \
	src/rl_editor/policy/episode_reward.py \
	src/rl_editor/policy/errors.py \
	src/rl_editor/policy/songs.py \
	src/rl_editor/raters/__init__.py \
	src/rl_editor/raters/campaign.py \
	src/rl_editor/raters/simulated.py \
	src/rl_editor/reward/__init__.py \
	src/rl_editor/reward/metrics.py \
	src/rl_editor/reward/pair_data.py \
	src/rl_editor/reward/pessimism.py \
	src/rl_editor/reward/train_config.py \
	src/rl_editor/rlhf/__init__.py \
	src/rl_editor/rlhf/errors.py \
	src/rl_editor/rlhf/evaluation_result.py \
	src/rl_editor/rlhf/finetune_log.py \
	src/rl_editor/rlhf/layout.py \
	src/rl_editor/rlhf/loop_config.py \
	src/rl_editor/rlhf/loop_plan.py \
	src/rl_editor/rlhf/loop_steps.py \
	tests/audio/test_analyze.py \
	tests/audio/test_beats.py \
	tests/audio/test_beats_madmom.py \
	tests/audio/test_cache.py \
	tests/audio/test_io.py \
	tests/audio/test_jumps.py \
	tests/browser/browser_helpers.py \
	tests/browser/test_listening_pages.py \
	tests/conftest.py \
	tests/feedback/test_campaign_sizing.py \
	tests/feedback/test_listening.py \
	tests/feedback/test_online_selection.py \
	tests/feedback/test_screening.py \
	tests/generate/conftest.py \
	tests/generate/generate_helpers.py \
	tests/policy/conftest.py \
	tests/policy/test_episode_reward.py \
	tests/policy/test_length.py \
	tests/raters/example_rater_plugins.py \
	tests/raters/test_simulated_campaign.py \
	tests/raters/test_rater_plugin.py \
	tests/reward/conftest.py \
	tests/reward/test_features.py \
	tests/reward/test_judgment_weights.py \
	tests/reward/test_pessimism.py \
	tests/rlhf/conftest.py \
	tests/test_config.py \
	tests/test_edit.py \
	tests/test_formats.py \
	tests/test_lazy.py \
	tests/test_preferences.py

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
	$(VENV)/bin/ruff format --check $(FORMATTED)
	$(VENV)/bin/mypy src

test: venv system-deps lint
	RL_EDITOR_MUSIC_FETCH=$(MUSIC_FETCH) OMP_NUM_THREADS=1 $(VENV)/bin/pytest $(PYTEST_ARGS)

test-fast: venv
	OMP_NUM_THREADS=1 $(VENV)/bin/pytest -m "$(FAST_MARKERS)" $(PYTEST_ARGS)

bench: venv
	RL_EDITOR_MUSIC_FETCH=$(MUSIC_FETCH) bash benchmarks/run_all.sh

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache test-artifacts

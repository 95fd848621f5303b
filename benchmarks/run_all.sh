#!/usr/bin/env bash
# Run every benchmark in sequence, one at a time (they time themselves; running two at once spoils both).
#
# Usage: bash benchmarks/run_all.sh        (from anywhere; `make bench` calls it)
#
# Real music: RL_EDITOR_MUSIC_DIR names a folder of songs. If it is unset and
# RL_EDITOR_MUSIC_FETCH names a fetch script (the Makefile passes ../shared/music/fetch.sh),
# the songs are fetched once into .cache/real-music. Without either, the benchmarks that
# need real music are skipped and the others run on songs they synthesize.
#
# Every benchmark runs with its full (default) settings; all of them together take about 10 minutes
# on 2 cores with the 16 songs of the fetch script. BENCH_QUICK=1 passes --quick to every one
# (a smoke run). PYTHON overrides the interpreter (default: the repository's .venv/bin/python).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
PYTHON=${PYTHON:-$repo/.venv/bin/python}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
quick=()
if [ -n "${BENCH_QUICK:-}" ]; then quick=(--quick); fi

if [ -z "${RL_EDITOR_MUSIC_DIR:-}" ] && [ -n "${RL_EDITOR_MUSIC_FETCH:-}" ]; then
  if [ -f "$RL_EDITOR_MUSIC_FETCH" ]; then
    bash "$RL_EDITOR_MUSIC_FETCH" "$repo/.cache/real-music"
    export RL_EDITOR_MUSIC_DIR="$repo/.cache/real-music"
  else
    echo "RL_EDITOR_MUSIC_FETCH=$RL_EDITOR_MUSIC_FETCH: no such script; real-music benchmarks skipped" >&2
  fi
fi
if [ -n "${RL_EDITOR_MUSIC_DIR:-}" ]; then
  [ -d "$RL_EDITOR_MUSIC_DIR" ] || { echo "RL_EDITOR_MUSIC_DIR=$RL_EDITOR_MUSIC_DIR is not a folder" >&2; exit 1; }
  export RL_EDITOR_MUSIC_DIR
  music="real music in $RL_EDITOR_MUSIC_DIR"
else
  music="no real music (set RL_EDITOR_MUSIC_DIR or RL_EDITOR_MUSIC_FETCH)"
fi

failed=()
run() {  # run NAME [ARGS...]: one benchmark with a header line; a failure is reported, the rest still run
  local name=$1
  shift
  set -- "$@" ${quick[@]+"${quick[@]}"}
  echo
  echo "=== $name${*:+ $*} ($(date -u +%H:%M:%S) UTC, load average $(cut -d' ' -f1-3 /proc/loadavg); $music) ==="
  local start=$SECONDS
  if "$PYTHON" "benchmarks/$name.py" "$@"; then
    echo "--- $name: $((SECONDS - start)) s"
  else
    echo "--- $name: FAILED (exit $?) after $((SECONDS - start)) s"
    failed+=("$name")
  fi
}
needs_music() {  # needs_music NAME [ARGS...]: run only with real music
  if [ -n "${RL_EDITOR_MUSIC_DIR:-}" ]; then
    run "$@"
  else
    echo
    echo "=== $1: skipped, it needs RL_EDITOR_MUSIC_DIR ==="
  fi
}

run bench_beats
run bench_render
needs_music bench_splice_detectability
run bench_feedback_load
run bench_rater_audio
run bench_policy_env
run bench_raters
needs_music bench_analysis
run bench_reward_speed
run bench_policy_train
needs_music bench_generate
run bench_reward_sample_efficiency
run bench_rlhf

echo
if [ ${#failed[@]} -gt 0 ]; then
  echo "failed: ${failed[*]}"
  exit 1
fi
echo "all benchmarks ran"

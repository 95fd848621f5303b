"""Candidate generation speed on real music: edits per second, x real time, and where the time goes.

Songs come from the folder named by ``RL_EDITOR_MUSIC_DIR`` (any audio files;
e.g. the 13 full songs of the project's music fetch script). The policy is
``--policy PATH`` or, when not given, one trained briefly here on demo songs
(generation speed does not depend on how well it was trained).

Runs, each into a fresh output folder:

1. cold analysis cache, all cores (process pool);
2. warm cache, all cores;
3. warm cache, one worker (in process).

For each: wall time, edits written per second, seconds of edited audio
written per wall second (x real time), and the cost split summed over
workers (analysis, policy, decode, render, write).

Usage::

    RL_EDITOR_MUSIC_DIR=/path/to/songs OMP_NUM_THREADS=1 python benchmarks/bench_generate.py [--quick] [--policy PATH]

``--quick``: 3 songs and 2 temperatures; ``--limit N``: the first N songs.
The machine's load average is printed too: on a shared machine the
workers do not get whole cores.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

TARGET_SECONDS = 180.0


def _train_policy(folder: Path) -> Path:
    from rl_editor.audio import analyze_song
    from rl_editor.audio.demo_songs import synthesize_corpus
    from rl_editor.policy.trainer import PolicyConfig, PPOTrainer

    songs = synthesize_corpus(folder / "demo", n_songs=2, seed=7, duration_range_s=(30.0, 40.0))
    trainer = PPOTrainer(PolicyConfig(seed=0))
    trainer.train(8, analyses=[analyze_song(p) for p in songs], progress=False)
    return trainer.save_checkpoint(folder / "policy.pt") or folder / "policy.pt"


def _run(
    label: str, policy: Path, songs: Path, out: Path, temperatures: tuple[float, ...], limit: int | None, workers: int
) -> float:
    from rl_editor.generate import GenerateConfig, run_generation

    config = GenerateConfig(policy, songs, out, temperatures=temperatures, limit=limit, workers=workers, progress=False)
    report = run_generation(config)
    wall = report.elapsed_seconds
    n_songs = len(report.generated)
    split = ", ".join(f"{k} {v:.1f}" for k, v in report.timings.items())
    print(
        f"{label:32s} {n_songs:2d} songs, {report.n_rendered:3d} edits in {wall:6.1f} s: "
        f"{report.n_rendered / wall:5.2f} edits/s, {report.rendered_seconds / wall:6.1f}x real time "
        f"(edited audio); {len(report.skipped)} skipped, {len(report.identical)} all-identical"
    )
    print(f"{'':32s} cost split (s, summed over workers): {split}; load average {os.getloadavg()[0]:.1f}")
    shutil.rmtree(out, ignore_errors=True)  # a full run writes several hundred MB of wav
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 songs, 2 temperatures")
    parser.add_argument("--policy", type=Path, help="policy checkpoint (default: train one briefly)")
    parser.add_argument("--limit", type=int, help="only the first N songs (sorted by path)")
    args = parser.parse_args()
    music = os.environ.get("RL_EDITOR_MUSIC_DIR")
    if not music or not Path(music).is_dir():
        sys.exit("set RL_EDITOR_MUSIC_DIR to a folder of songs")

    work = Path(tempfile.mkdtemp(prefix="bench-generate-"))
    os.environ["RL_EDITOR_CACHE_DIR"] = str(work / "analysis-cache")  # cold cache, shared by the runs
    try:
        from rl_editor.audio.io import find_songs

        limit = args.limit or (3 if args.quick else None)
        temperatures = (0.1, 0.9) if args.quick else (0.1, 0.3, 0.5, 0.7, 0.9)
        songs = find_songs(Path(music), limit=limit)
        from rl_editor.audio.io import audio_info

        minutes = sum(audio_info(p)[2] for _, p in songs) / 60
        cores = os.cpu_count() or 1
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(
            f"{len(songs)} songs ({minutes:.1f} min) x {len(temperatures)} temperatures, {cores} cores "
            f"(load average before: {load})"
        )
        t0 = time.perf_counter()
        policy = args.policy or _train_policy(work)
        print(f"policy ready in {time.perf_counter() - t0:.1f} s ({policy})")

        cold = _run(f"cold cache, {cores} workers", policy, Path(music), work / "out-cold", temperatures, limit, cores)
        warm = _run(f"warm cache, {cores} workers", policy, Path(music), work / "out-warm", temperatures, limit, cores)
        _run("warm cache, 1 worker", policy, Path(music), work / "out-one", temperatures, limit, 1)
        verdict = "met" if max(cold, warm) < TARGET_SECONDS else "NOT met"
        print(
            f"target: {len(songs)} songs x {len(temperatures)} temperatures in < {TARGET_SECONDS:.0f} s "
            f"on {cores} cores: {verdict} (cold {cold:.1f} s, warm {warm:.1f} s)"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Analysis speed on real music: warm throughput, cold first song, cache hits.

Usage::

    RL_EDITOR_MUSIC_DIR=/path/to/songs python benchmarks/bench_analysis.py [--quick]

``RL_EDITOR_MUSIC_DIR`` is a folder of songs (ogg/wav/flac/mp3, searched
recursively). ``--quick`` uses its 3 shortest songs. Prints:

- warm throughput: seconds of audio analysed per CPU second, one process with
  ``OMP_NUM_THREADS=1`` (target >= 100x per core); wall-clock figures too, which
  depend on how busy the machine is;
- cold first song: a fresh Python process that imports rl_editor and analyses
  one song, wall time including interpreter start and imports (target < 10 s),
  with numba's on-disk cache as installed, and with an empty numba cache
  (what the very first run after installing pays);
- cache hit: time to return a cached analysis.

``--long-minutes 60,15`` instead measures memory on long songs: for each length
it writes a song of that many minutes (44.1 kHz stereo FLAC, the songs of
``RL_EDITOR_MUSIC_DIR`` one after another), analyses it in a fresh process with
no length limit (``RL_EDITOR_MAX_SONG_MINUTES=0``) and with the default limit,
and prints each process's peak RSS and outcome.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

COLD_SCRIPT = """
import time, sys
start = time.perf_counter()
from rl_editor.audio import analyze_song
a = analyze_song(sys.argv[1], use_cache=False)
print(f"{time.perf_counter() - start:.2f} {time.process_time():.2f} {a.n_beats}")
"""


def _cold_run(song: Path, extra_env: dict[str, str]) -> tuple[float, float, float]:
    """Wall seconds (with interpreter start), wall seconds from import to result, CPU seconds."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", **extra_env}
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", COLD_SCRIPT, str(song)], env=env, capture_output=True, text=True, check=True
    )
    wall = time.perf_counter() - start
    inside, cpu = (float(x) for x in result.stdout.split()[:2])
    return wall, inside, cpu


MEMORY_SCRIPT = """
import resource, sys, time
from rl_editor.audio import AnalysisError, analyze_song
start = time.perf_counter()
try:
    a = analyze_song(sys.argv[1], use_cache=False)
    outcome = f"analysed: {a.n_beats} beats"
except AnalysisError as exc:
    outcome = f"refused: {str(exc).split(': ', 1)[1]}"
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"{peak_mb:.0f}\t{time.perf_counter() - start:.1f}\t{outcome}")
"""


def _write_long_song(songs: list[Path], minutes: float, path: Path) -> float:
    """Write the songs one after another (44.1 kHz stereo FLAC) until ``minutes``; returns its seconds."""
    import numpy as np
    import soundfile as sf

    from rl_editor.audio.io import load_audio

    wanted, written = int(minutes * 60 * 44100), 0
    with sf.SoundFile(str(path), "w", samplerate=44100, channels=2, format="FLAC", subtype="PCM_16") as out:
        while written < wanted:
            for song in songs:
                samples = load_audio(song, sample_rate=44100).samples[: wanted - written]
                out.write(np.clip(samples if samples.shape[1] == 2 else np.repeat(samples[:, :1], 2, axis=1), -1, 1))
                written += samples.shape[0]
                if written >= wanted:
                    break
    return written / 44100


def long_song_memory(songs: list[Path], minutes_list: list[float]) -> None:
    """Peak RSS of analysing long songs, without a length limit and with the default one."""
    from rl_editor.audio.analyze import DEFAULT_MAX_SONG_MINUTES, MAX_SONG_MINUTES_ENV

    print(f"{'minutes':>7} {'limit':>10} {'peak RSS MB':>11} {'wall s':>7}  outcome")
    with tempfile.TemporaryDirectory() as folder:
        for minutes in minutes_list:
            path = Path(folder) / f"long-{minutes:g}min.flac"
            seconds = _write_long_song(songs, minutes, path)
            for limit in ("0", str(DEFAULT_MAX_SONG_MINUTES)):
                env = {**os.environ, "OMP_NUM_THREADS": "1", MAX_SONG_MINUTES_ENV: limit}
                result = subprocess.run(
                    [sys.executable, "-c", MEMORY_SCRIPT, str(path)],
                    env=env,
                    capture_output=True,
                    text=True,
                    check=True,
                )
                peak, wall, outcome = result.stdout.strip().split("\t")
                label = "none" if limit == "0" else f"{float(limit):g} min"
                print(f"{seconds / 60:7.1f} {label:>10} {peak:>11} {wall:>7}  {outcome}")
            path.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only the 3 shortest songs")
    parser.add_argument(
        "--long-minutes",
        default="",
        help="comma-separated song lengths (minutes): measure peak memory on songs this long instead",
    )
    args = parser.parse_args()
    folder = os.environ.get("RL_EDITOR_MUSIC_DIR")
    if not folder:
        sys.exit("set RL_EDITOR_MUSIC_DIR to a folder of songs")
    if args.long_minutes:
        from rl_editor.audio.analyze import find_audio_files

        long_song_memory(find_audio_files([folder])[0], [float(m) for m in args.long_minutes.split(",")])
        return

    from rl_editor.audio.analyze import analyze_song, find_audio_files
    from rl_editor.audio.io import audio_info

    songs, _ = find_audio_files([folder])
    songs = sorted(songs, key=lambda p: audio_info(p)[2])
    if args.quick:
        songs = songs[:3]
    if not songs:
        sys.exit(f"{folder}: no audio files")

    # Cold start first, before this process has imported librosa.
    cold_song = songs[len(songs) // 2]
    cold_wall, cold_inside, cold_cpu = _cold_run(cold_song, {})
    with tempfile.TemporaryDirectory() as numba_dir:
        fresh_wall, _, fresh_cpu = _cold_run(cold_song, {"NUMBA_CACHE_DIR": numba_dir})
    cold_duration = audio_info(cold_song)[2]

    analyze_song(songs[0], use_cache=False)  # warm imports
    total_audio, total_time, total_cpu = 0.0, 0.0, 0.0
    print(f"{'song':<28} {'secs':>6} {'beats':>6} {'bpm':>6} {'wall s':>7} {'cpu s':>6} {'x rt':>6}")
    with tempfile.TemporaryDirectory() as cache_dir:
        for song in songs:
            start, cpu_start = time.perf_counter(), time.process_time()
            a = analyze_song(song, cache_dir=cache_dir)
            elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
            total_audio += a.duration_seconds
            total_time += elapsed
            total_cpu += cpu
            print(
                f"{song.stem[:28]:<28} {a.duration_seconds:6.1f} {a.n_beats:6d} {a.tempo_bpm:6.1f} "
                f"{elapsed:7.2f} {cpu:6.2f} {a.duration_seconds / cpu:6.0f}"
            )
        hits = []
        for song in songs:
            start = time.perf_counter()
            analyze_song(song, cache_dir=cache_dir)
            hits.append(time.perf_counter() - start)
    print(
        f"warm throughput: {total_audio / total_cpu:.0f}x real time per core "
        f"({total_audio:.0f} s of audio in {total_cpu:.1f} CPU s; {total_audio / total_time:.0f}x by wall clock "
        f"on this machine's load; target >= 100x)"
    )
    print(
        f"cold first song ({cold_song.stem}, {cold_duration:.0f} s) in a fresh process: {cold_wall:.1f} s wall "
        f"({cold_inside:.1f} s from import to result, {cold_cpu:.1f} CPU s); target < 10 s"
    )
    print(
        f"cold first song with an empty numba cache (first run after install): {fresh_wall:.1f} s wall, "
        f"{fresh_cpu:.1f} CPU s"
    )
    print(
        f"cache hit: median {sorted(hits)[len(hits) // 2] * 1000:.1f} ms, max {max(hits) * 1000:.1f} ms "
        f"({total_time / len(songs) / (sum(hits) / len(hits)):.0f}x faster than analysing)"
    )


if __name__ == "__main__":
    main()

"""Rendering speed and peak memory for a 6-minute stereo song.

Usage::

    python benchmarks/bench_render.py [--quick] [--seconds 360] [--sample-rate 44100]

Builds a stereo song of ``--seconds`` (default 360; ``--quick``: 60) at
``--sample-rate`` Hz from a synthesized demo song, analyses it, then renders
random edits (60 % keep, 30 % cut, 10 % repeat) and prints the speed in
multiples of real time (of the rendered length) beside the plain renderer's
(``SpliceConfig.plain()``: nothing searched), the peak traced Python memory
during rendering (tracemalloc) and the process's peak RSS.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
import tracemalloc
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 60 s song")
    parser.add_argument("--seconds", type=float, default=360.0)
    parser.add_argument("--sample-rate", type=int, default=44100)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    seconds = 60.0 if args.quick else args.seconds

    import numpy as np

    from rl_editor.audio.analyze import analyze_song
    from rl_editor.audio.demo_songs import synthesize_corpus
    from rl_editor.audio.io import load_audio, resample, save_audio
    from rl_editor.audio.render import render_edit
    from rl_editor.audio.splice import SpliceConfig
    from rl_editor.edit import Edit

    with tempfile.TemporaryDirectory() as folder:
        demo = synthesize_corpus(Path(folder), n_songs=1, seed=5, duration_range_s=(60.0, 60.0))[0]
        base = load_audio(demo)
        samples = resample(base.samples, base.sample_rate, args.sample_rate)
        reps = int(np.ceil(seconds * args.sample_rate / samples.shape[0]))
        song = np.tile(samples, (reps, 1))[: int(seconds * args.sample_rate)]
        path = save_audio(Path(folder) / "long.wav", song, args.sample_rate)
        analysis = analyze_song(path, use_cache=False)
        source = load_audio(path)
        print(
            f"song: {source.duration_seconds:.0f} s, {source.sample_rate} Hz, {source.channels} ch, "
            f"{analysis.n_beats} beats"
        )
        rng = np.random.default_rng(0)
        timings, rendered_s = [], []
        tracemalloc.start()
        for _ in range(args.repeats):
            actions = rng.choice(3, size=analysis.n_beats, p=[0.6, 0.3, 0.1])
            actions[0] = actions[-1] = 0
            start = time.perf_counter()
            out = render_edit(source, analysis, actions)
            timings.append(time.perf_counter() - start)
            rendered_s.append(out.duration_seconds)
            assert abs(out.duration_seconds - Edit("x", actions).duration_seconds(analysis.beat_durations_s)) < 0.01
            del out
        _, peak_traced = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        plain_timings = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            render_edit(source, analysis, actions, splices=SpliceConfig.plain())
            plain_timings.append(time.perf_counter() - start)
        n_splices = len(Edit("x", actions).splice_pairs())
        start = time.perf_counter()
        out = render_edit(path, analysis, actions)
        from_file_s = time.perf_counter() - start
        start = time.perf_counter()
        save_audio(Path(folder) / "edit.wav", out)
        save_s = time.perf_counter() - start
    speed = np.sum(rendered_s) / np.sum(timings)
    print(
        f"render from decoded audio: {np.median(timings) * 1000:.1f} ms per edit, {speed:.0f}x real time "
        f"(plain 10 ms crossfades, nothing searched: {np.median(plain_timings) * 1000:.1f} ms; {n_splices} splices)"
    )
    print(
        f"render from file (decode included): {from_file_s:.2f} s, {out.duration_seconds / from_file_s:.0f}x real time"
    )
    print(f"save wav: {save_s:.2f} s")
    print(
        f"peak traced memory while rendering: {peak_traced / 2**20:.0f} MiB "
        f"(source audio {source.samples.nbytes / 2**20:.0f} MiB)"
    )
    print(f"peak RSS of the process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()

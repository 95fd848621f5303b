"""Beat and downbeat accuracy on synthesized demo songs (mir_eval F-measure, 70 ms window).

Usage::

    python benchmarks/bench_beats.py [--quick] [--n-songs 8] [--seed 0]

Synthesizes ``--n-songs`` default-length demo songs (60-180 s; ``--quick``: 4
songs of 30-40 s) with ``rl_editor.audio.demo_songs.synthesize_corpus``,
analyses each without the cache and compares beats and downbeats with the
songs' ground-truth JSON. Targets: beat F >= 0.95, downbeat F >= 0.8.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4 short songs instead of 8 full-length ones")
    parser.add_argument("--n-songs", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import mir_eval
    import numpy as np

    from rl_editor.audio.analyze import analyze_song
    from rl_editor.audio.demo_songs import synthesize_corpus

    n_songs, duration_range = (4, (30.0, 40.0)) if args.quick else (args.n_songs, (60.0, 180.0))
    with tempfile.TemporaryDirectory() as folder:
        paths = synthesize_corpus(Path(folder), n_songs=n_songs, seed=args.seed, duration_range_s=duration_range)
        beat_f, down_f = [], []
        print(f"{'song':<10} {'secs':>6} {'bpm':>6} {'est':>6} {'beat F':>7} {'down F':>7} {'time s':>7}")
        for path in paths:
            truth = json.loads(Path(path).with_suffix(".json").read_text())
            start = time.perf_counter()
            a = analyze_song(path, use_cache=False)
            elapsed = time.perf_counter() - start
            trim = mir_eval.beat.trim_beats
            bf = mir_eval.beat.f_measure(trim(np.asarray(truth["beats"])), trim(a.beat_times_s))
            df = mir_eval.beat.f_measure(trim(np.asarray(truth["downbeats"])), trim(a.downbeat_times_s))
            beat_f.append(bf)
            down_f.append(df)
            print(
                f"{Path(path).stem:<10} {a.duration_seconds:6.1f} {truth['tempo_bpm']:6.1f} {a.tempo_bpm:6.1f} "
                f"{bf:7.3f} {df:7.3f} {elapsed:7.2f}"
            )
    print(f"mean beat F     {np.mean(beat_f):.3f}  (target >= 0.95)")
    print(f"mean downbeat F {np.mean(down_f):.3f}  (target >= 0.80)")


if __name__ == "__main__":
    main()

"""Simulated raters: how much the tastes disagree, whether the noise model does what it says, and speed.

Usage::

    python benchmarks/bench_raters.py [--quick] [--songs N] [--pairs N]

Synthesizes demo songs (``rl_editor.audio.demo_songs``) into a temporary
folder, analyses them, samples candidate edits per song with
``rl_editor.raters.sample_edits`` (no trained policy needed), and prints:

- Kendall tau between every two tastes' rankings of the same candidates (mean over songs);
- for the musician taste with noise, measured vs configured mistake rate, tie
  share, strength mix, position-bias share of "A" among unsure pairs;
- judgments per second and the time ``synthesize_preferences`` takes for ``--pairs`` pairs.

Set ``RL_EDITOR_MUSIC_DIR`` to a folder of songs to use those instead of demo songs.
"""

from __future__ import annotations

import argparse
import itertools
import os
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
from scipy.stats import kendalltau

from rl_editor.audio import analyze_song
from rl_editor.audio.demo_songs import synthesize_corpus
from rl_editor.edit import Edit
from rl_editor.generate.manifest import Candidate, Manifest, SongEntry
from rl_editor.raters import TASTES, NoiseModel, SimulatedRater, load_rater, sample_edits, synthesize_preferences


def song_paths(tmp: Path, n_songs: int, quick: bool) -> list[Path]:
    given = os.environ.get("RL_EDITOR_MUSIC_DIR")
    if given:
        found = sorted(p for p in Path(given).iterdir() if p.suffix.lower() in (".wav", ".ogg", ".flac", ".mp3"))
        return found[:n_songs]
    duration = (35.0, 45.0) if quick else (90.0, 150.0)
    return synthesize_corpus(tmp / "songs", n_songs=n_songs, seed=7, duration_range_s=duration)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4 short songs, 300 pairs")
    parser.add_argument("--songs", type=int, default=None)
    parser.add_argument("--pairs", type=int, default=None)
    args = parser.parse_args()
    n_songs = args.songs or (4 if args.quick else 8)
    n_pairs = args.pairs or (300 if args.quick else 1000)

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        started = time.perf_counter()
        analyses = [analyze_song(p) for p in song_paths(tmp, n_songs, args.quick)]
        print(
            f"songs: {len(analyses)}, beats {min(a.n_beats for a in analyses)}-{max(a.n_beats for a in analyses)}, "
            f"analysed in {time.perf_counter() - started:.1f} s"
        )

        candidates = {a.song_id: sample_edits(a, 40, np.random.default_rng(k)) for k, a in enumerate(analyses)}
        names = list(TASTES)
        scores = {}
        started = time.perf_counter()
        for name in names:
            scores[name] = {a.song_id: TASTES[name].score_batch(a, candidates[a.song_id]) for a in analyses}
        n_scored = len(names) * sum(len(c) for c in candidates.values())
        print(f"taste scoring: {n_scored / (time.perf_counter() - started):.0f} edits/s (incl. per-song calibration)")
        print("\nKendall tau between tastes (40 candidates per song, mean over songs):")
        print("           " + "".join(f"{n:>10}" for n in names))
        for first in names:
            row = [
                np.mean([kendalltau(scores[first][s], scores[second][s])[0] for s in scores[first]]) for second in names
            ]
            print(f"{first:>10} " + "".join(f"{t:>10.2f}" for t in row))

        pairs = [
            (a, Edit(a.song_id, c[i]), Edit(a.song_id, c[j]))
            for a in analyses
            for c in [candidates[a.song_id]]
            for i, j in itertools.combinations(range(12), 2)
        ]
        truth = ["a" if TASTES["musician"].score(s, x) > TASTES["musician"].score(s, y) else "b" for s, x, y in pairs]
        print(f"\nnoise model on {len(pairs)} candidate pairs (musician taste):")
        for label, noise in [
            ("oracle", NoiseModel(tie_threshold=0.0)),
            ("mistake=0.1", NoiseModel(mistake=0.1, tie_threshold=0.0)),
            ("beta=2", NoiseModel(beta=2.0, tie_threshold=0.0)),
            ("default", NoiseModel()),
            ("human preset", load_rater("musician:noise=human").noise),
        ]:
            rater = SimulatedRater("bench", TASTES["musician"], noise, seed=1)
            started = time.perf_counter()
            judged = [rater.judge(s, x, y) for s, x, y in pairs]
            rate = len(judged) / (time.perf_counter() - started)
            decisive = [(j.preference, t) for j, t in zip(judged, truth) if j.preference != "tie"]
            agree = np.mean([p == t for p, t in decisive]) if decisive else float("nan")
            ties = np.mean([j.preference == "tie" for j in judged])
            strengths = Counter(j.strength for j in judged if j.preference != "tie")
            mix = " ".join(f"s{k}={strengths.get(k, 0) / max(len(decisive), 1):.2f}" for k in (1, 2, 3))
            print(f"  {label:<13} agreement with taste {agree:.3f}  ties {ties:.3f}  {mix}  {rate:.0f} judgments/s")

        unsure = [
            (s, x, y) for s, x, y in pairs if abs(TASTES["musician"].score(s, x) - TASTES["musician"].score(s, y)) < 0.5
        ]
        both = unsure + [(s, y, x) for s, x, y in unsure]
        for bias in (0.0, 0.3):
            rater = SimulatedRater(
                "bench", TASTES["musician"], NoiseModel(tie_threshold=0.0, position_bias=bias), seed=2
            )
            share = np.mean([rater.judge(s, x, y).preference == "a" for s, x, y in both])
            print(
                f"  position_bias={bias}: share of A among {len(both)} unsure presentations {share:.3f} "
                f"(expected {0.5 + bias / 2:.3f})"
            )

        entries = [
            SongEntry(
                song=a.path,
                song_id=a.song_id,
                duration_seconds=a.duration_seconds,
                beats=a.beat_times_s.tolist(),
                downbeats=a.downbeat_times_s.tolist(),
                candidates=[
                    Candidate(
                        edit_id=f"{a.song_id}-{k}",
                        temperature=0.5,
                        path=f"{a.song_id}/{k}.wav",
                        duration=0.0,
                        actions=c.tolist(),
                        policy="bench",
                        seed=k,
                    )
                    for k, c in enumerate(candidates[a.song_id][:15])
                ],
            )
            for a in analyses
        ]
        manifest = Manifest(root=tmp, songs=entries)
        started = time.perf_counter()
        prefs = synthesize_preferences(
            manifest,
            load_rater("musician:mistake=0.1"),
            n_pairs=n_pairs,
            seed=0,
            analyses={a.song_id: a for a in analyses},
            progress=False,
        )
        elapsed = time.perf_counter() - started
        counts = Counter(p.preference for p in prefs)
        print(
            f"\nsynthesize_preferences: {len(prefs)} pairs in {elapsed:.2f} s "
            f"(a {counts['a']}, b {counts['b']}, tie {counts['tie']}; "
            f"per song {min(Counter(p.song_id for p in prefs).values())}-{max(Counter(p.song_id for p in prefs).values())})"
        )


if __name__ == "__main__":
    main()

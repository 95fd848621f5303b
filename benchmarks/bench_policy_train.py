"""Iteration-1 policy: training time and how editorial its edits are, on held-out songs.

Usage::

    python benchmarks/bench_policy_train.py [--quick] [--episodes 3000] [--seeds 0,1,2] [--heldout 4]

Songs: the real songs in ``RL_EDITOR_MUSIC_DIR`` when set (the shared fetch
script gives 16, 0.7-6 minutes), else 8 synthesized demo songs. For every seed
the songs are shuffled with that seed, ``--heldout`` of them are held out, and
a policy is trained on the rest with the dense reward. On the held-out songs it
reports, per seed and over all seeds:

- training wall time (torch single-threaded);
- for each requested length (0.4 .. 0.9 of the song): the edits' lengths and
  the share of songs within 5% of the target (target: >= 90%);
- for edits at 55-75% of the song: splices per minute of output (target <= 1.5);
- the share of cuts that span a multiple of 4 bars or end on a section
  boundary (target >= 80%), and of cuts that are whole phrases of the song's
  structure;
- without a target (the policy's own length), and across temperatures 0.1 .. 0.9:
  lengths, and how much candidates differ (mean pairwise share of beats
  edited differently).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

TARGETS = (0.4, 0.5, 0.55, 0.6, 0.7, 0.75, 0.8, 0.9)


def load_songs(quick: bool) -> tuple[list, str]:
    from rl_editor.audio import analyze_song
    from rl_editor.audio.demo_songs import synthesize_corpus

    music_dir = os.environ.get("RL_EDITOR_MUSIC_DIR")
    if music_dir:
        from rl_editor.audio.load import load_songs

        analyses = load_songs(music_dir)
        return analyses, f"{len(analyses)} real songs in {music_dir}"
    with tempfile.TemporaryDirectory() as folder:
        n, durations = (5, (50.0, 70.0)) if quick else (8, (60.0, 180.0))
        paths = synthesize_corpus(Path(folder), n_songs=n, seed=0, duration_range_s=durations)
        return [analyze_song(p) for p in paths], f"{len(paths)} synthesized demo songs"


def edit_rows(trainer, songs: list, targets, temperature: float = 0.0, seed: int = 0) -> list[dict]:
    """One row of figures per (song, target)."""
    import warnings

    from rl_editor.audio.structure import cut_alignment, song_structure
    from rl_editor.policy.dense_reward import edit_stats

    rows = []
    for song in songs:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            edits = trainer.generate_edits(song, [temperature] * len(targets), [seed] * len(targets), list(targets))
        for target, actions in zip(targets, edits):
            stats = edit_stats(song, actions)
            rows.append(
                {"song": song.song_id, "target": target, **stats, **cut_alignment(song_structure(song), actions)}
            )
    return rows


def summarize(rows: list[dict]) -> dict[str, float]:
    import numpy as np

    targeted = [r for r in rows if r["target"] is not None]
    mid = [r for r in targeted if 0.55 <= r["target"] <= 0.75]
    within = [abs(r["duration_share"] - r["target"]) <= 0.05 * r["target"] for r in targeted]
    return {
        "within_5pct": float(np.mean(within)),
        "splices_per_minute_55_75": float(np.mean([r["splices_per_minute"] for r in mid])),
        "editorial_cuts": float(np.nanmean([r["four_bar_or_section_share"] for r in targeted])),
        "whole_phrase_cuts": float(np.nanmean([r["whole_phrase_share"] for r in targeted])),
        "mean_splice_quality": float(np.nanmean([r["mean_splice_quality"] for r in targeted])),
        "bar_line_share": float(np.nanmean([r["bar_line_share"] for r in targeted])),
    }


def hamming(edits: list) -> float:
    import numpy as np

    return float(np.mean([np.mean(a != b) for i, a in enumerate(edits) for b in edits[i + 1 :]]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one seed, 800 episodes")
    parser.add_argument("--episodes", type=int, default=3000)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--heldout", type=int, default=4)
    args = parser.parse_args()

    import numpy as np

    from rl_editor.policy.trainer import PolicyConfig, PPOTrainer

    seeds = [0] if args.quick else [int(s) for s in args.seeds.split(",")]
    episodes = min(args.episodes, 800) if args.quick else args.episodes
    songs, where = load_songs(args.quick)
    print(f"{where}; {episodes} episodes per seed; {args.heldout} songs held out per seed")
    totals = []
    for seed in seeds:
        order = np.random.default_rng(seed).permutation(len(songs))
        held_out = [songs[i] for i in order[: args.heldout]]
        train = [songs[i] for i in order[args.heldout :]]
        trainer = PPOTrainer(PolicyConfig(seed=seed))
        start = time.perf_counter()
        trainer.train(episodes, analyses=train, progress=False)
        elapsed = time.perf_counter() - start
        names = ", ".join(f"{s.song_id} ({s.duration_seconds / 60:.1f} min)" for s in held_out)
        print(f"\nseed {seed}: trained on {len(train)} songs in {elapsed:.1f} s; held out: {names}")
        rows = edit_rows(trainer, held_out, TARGETS)
        for target in TARGETS:
            shares = [r["duration_share"] for r in rows if r["target"] == target]
            print(f"  target {target:.2f}: lengths {' '.join(f'{s:.2f}' for s in shares)}")
        summary = summarize(rows)
        totals.append(summary)
        print(
            f"  within 5% of target: {summary['within_5pct']:.0%} | splices/min at 55-75%: "
            f"{summary['splices_per_minute_55_75']:.2f} | cuts of 4k bars or ending on a section: "
            f"{summary['editorial_cuts']:.0%} | whole-phrase cuts: {summary['whole_phrase_cuts']:.0%} | "
            f"splices on bar lines {summary['bar_line_share']:.0%}, mean splice quality "
            f"{summary['mean_splice_quality']:.2f}"
        )
        free = edit_rows(trainer, held_out, [None])
        own = " ".join(f"{r['duration_share']:.2f}" for r in free)
        print(
            f"  own length (no target, greedy): {own} "
            f"(dense reward aims at {trainer.config.target_keep_share:.2f}); splices/min "
            f"{np.mean([r['splices_per_minute'] for r in free]):.2f}"
        )
        for temperature in (0.1, 0.5, 0.9):
            per_song = [trainer.generate_edits(s, [temperature] * 8, list(range(8))) for s in held_out]
            print(
                f"  T={temperature:.1f}, no target: mean pairwise difference {np.mean([hamming(e) for e in per_song]):.3f}, "
                f"distinct {np.mean([len({x.tobytes() for x in e}) for e in per_song]):.1f} of 8"
            )
    print("\nall seeds:")
    for key in totals[0]:
        values = [t[key] for t in totals]
        print(f"  {key:26s} " + " ".join(f"{v:.3f}" for v in values) + f"  (mean {np.mean(values):.3f})")


if __name__ == "__main__":
    main()

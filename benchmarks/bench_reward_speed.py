"""Reward model speed: training time on 1,000 pairs and scoring throughput.

- Training: 1,000 pairs (``musician`` rater, 10 % mistakes, sampled candidates
  of the demo songs) x 20 epochs on CPU, early stopping off, for one member
  and for the default 5-member ensemble (target < 30 s).
- Scoring: edits per second through ``RewardEnsemble.score`` (all members,
  mean and std) on batches of sampled edits of one song (target >= 10,000/s),
  and through one member alone.

Songs: demo songs (``synthesize_corpus``, cached under ``.cache/bench``) or the
folder named by ``RL_EDITOR_MUSIC_DIR``.

Usage::

    python benchmarks/bench_reward_speed.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from bench_reward_sample_efficiency import Oracle, bench_songs, candidate_pool  # noqa: E402
from rl_editor.reward.model import RewardEnsemble  # noqa: E402
from rl_editor.reward.train import RewardTrainConfig, train_reward_model  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer pairs and edits")
    args = parser.parse_args()
    torch.set_num_threads(1)
    n_pairs, n_edits = (300, 4000) if args.quick else (1000, 20000)
    songs = bench_songs(8 if not args.quick else 5, (60.0, 100.0) if not args.quick else (40.0, 60.0))
    analyses = {s.song_id: s for s in songs}
    candidates, pool = candidate_pool(songs, 24, seed=0)
    oracle = Oracle(analyses, candidates, seed=0)
    order = np.random.default_rng(0).permutation(len(pool))[:n_pairs]
    pairs = [oracle.ask(pool[k]) for k in order]
    print(
        f"{len(songs)} songs, {sum(s.n_beats for s in songs)} beats, {len(pairs)} judged pairs, torch threads 1, "
        f"load average {os.getloadavg()[0]:.1f} (wall time on a shared machine follows the load; "
        "CPU time is what one free core would take)"
    )
    # torch loads its compiler stack on the first optimizer; keep that one-off out of the timing
    train_reward_model(pairs[:50], RewardTrainConfig(epochs=1, members=1, val_frac=0.0), analyses=analyses)

    ensemble = None
    for members in (1, 5):
        config = RewardTrainConfig(epochs=20, members=members, patience=10**6, seed=0)
        start, cpu = time.perf_counter(), time.process_time()
        ensemble, report = train_reward_model(pairs, config, analyses=analyses)
        seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
        print(
            f"train {len(pairs)} pairs x 20 epochs, {members} member(s): {seconds:.1f} s wall, {cpu_seconds:.1f} s CPU "
            f"(target < 30 s; held-out accuracy {report.val_metrics['accuracy']:.3f})"
        )

    from rl_editor.raters.tastes import sample_edits

    song = max(songs, key=lambda s: s.n_beats)
    edits = np.stack(sample_edits(song, 2000, np.random.default_rng(1)))
    edits = np.tile(edits, (n_edits // len(edits), 1))
    ensemble.score(song, edits[:100])  # warm the per-song cache
    for label, model in (("5-member ensemble", ensemble), ("1 member", RewardEnsemble(ensemble.members[:1]))):
        model.score(song, edits[:100])
        start, cpu = time.perf_counter(), time.process_time()
        model.score(song, edits)
        rate = len(edits) / (time.perf_counter() - start)
        cpu_rate = len(edits) / (time.process_time() - cpu)
        print(
            f"score {len(edits)} edits of a {song.n_beats}-beat song, {label}: {rate:,.0f} edits/s wall, "
            f"{cpu_rate:,.0f} per CPU second (target >= 10,000)"
        )
    fresh = RewardEnsemble(ensemble.members)
    start = time.perf_counter()
    fresh.score(song, edits[:1000])
    print(
        f"first call on a new song (embeds its beats once) + 1,000 edits: {1000 * (time.perf_counter() - start):.0f} ms"
    )


if __name__ == "__main__":
    main()

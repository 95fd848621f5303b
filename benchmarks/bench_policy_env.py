"""Throughput of the batched editing environment with the policy in the loop.

Usage::

    python benchmarks/bench_policy_env.py [--quick] [--threads 2] [--seconds 5]

Synthesizes 8 demo songs (``synthesize_corpus``, seed 0; ``--quick``: 4 songs of
30-40 s) and steps ``EditVecEnv`` with an (untrained, same-size) ``MaskablePPO``
policy choosing every action (``policy.predict`` with action masks), for several
numbers of songs stepping together. Prints beats (steps) per second for the
environment alone, the full loop, and ``PPOTrainer.generate_edits`` (10
candidates of one song in one batched pass). Target: >= 20,000 beats/s with the
policy in the loop on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")


def beats_per_second(env, model, rng, seconds: float) -> float:
    """Steps ``env`` for ``seconds`` with ``model`` choosing (random legal actions when None); beats per second."""
    import numpy as np

    obs = env.reset()
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        masks = env.action_masks()
        if model is not None:
            actions, _ = model.predict(obs, action_masks=masks, deterministic=False)
        else:
            actions = np.argmax(masks * rng.random(masks.shape), axis=1)
        obs, _, _, _ = env.step(actions)
        steps += env.num_envs
    return steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4 short songs and 2 s per measurement")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest for these small networks)")
    parser.add_argument("--seconds", type=float, default=5.0, help="time per measurement")
    args = parser.parse_args()

    import numpy as np
    import torch

    from rl_editor.audio import analyze_song
    from rl_editor.audio.demo_songs import synthesize_corpus
    from rl_editor.policy.env import EditVecEnv
    from rl_editor.policy.trainer import PolicyConfig, PPOTrainer

    torch.set_num_threads(args.threads)
    seconds = 2.0 if args.quick else args.seconds
    n_songs, durations = (4, (30.0, 40.0)) if args.quick else (8, (60.0, 180.0))
    with tempfile.TemporaryDirectory() as folder:
        paths = synthesize_corpus(Path(folder), n_songs=n_songs, seed=0, duration_range_s=durations)
        analyses = [analyze_song(p, use_cache=False) for p in paths]
    print(f"{len(analyses)} demo songs, {sum(a.n_beats for a in analyses)} beats; torch threads {args.threads}")

    for n_envs in (16, 64, 256):
        config = PolicyConfig(n_envs=n_envs, torch_threads=args.threads)
        trainer = PPOTrainer(config)
        trainer.reset_model(analyses)
        torch.set_num_threads(args.threads)
        env = EditVecEnv(analyses, config.env, n_envs=n_envs, seed=0)
        rng = np.random.default_rng(0)
        env_only = beats_per_second(env, None, rng, seconds)
        with_policy = beats_per_second(env, trainer.model, rng, seconds)
        print(f"n_envs {n_envs:4d}: env alone {env_only:10,.0f} beats/s | env + policy {with_policy:10,.0f} beats/s")

    song = max(analyses, key=lambda a: a.n_beats)
    temps = [0.1, 0.3, 0.5, 0.7, 0.9] * 2
    trainer.generate_edits(song, temps, list(range(10)))
    start, rounds = time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        trainer.generate_edits(song, temps, list(range(10)))
        rounds += 1
    elapsed = (time.perf_counter() - start) / rounds
    print(
        f"generate_edits: 10 candidates of a {song.n_beats}-beat song in {elapsed * 1000:.1f} ms "
        f"({10 * song.n_beats / elapsed:,.0f} beats/s)"
    )


if __name__ == "__main__":
    main()

"""Training time and edit quality of the policy on the demo songs.

Usage::

    python benchmarks/bench_policy_train.py [--quick] [--episodes 500] [--seed 0]

Synthesizes 8 demo songs (``synthesize_corpus``, seed 0, 60-180 s; ``--quick``:
5 songs of 50-70 s and at most 400 episodes), trains on all but the last 2 and reports,
on those 2 held-out songs:

- wall time of training (torch single-threaded);
- dense reward (``score_edit``) of the trained policy (greedy), a random policy
  (uniform over allowed actions) and keep-everything;
- share of splices on bar lines (target >= 80%) and whether the edit length is
  within 10% of the target keep share (target: yes);
- share of cut beats and candidate diversity (mean pairwise Hamming distance
  of 10 candidates per song) at temperatures 0.1 .. 0.9.

With ``RL_EDITOR_MUSIC_DIR`` set to a folder of songs, the trained policy is
also scored on those real songs (held out: it never trains on them).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")


def random_edits(analysis, n: int, seed: int, config) -> list:
    """Edits choosing uniformly among the allowed actions at every beat."""
    import numpy as np

    from rl_editor.policy.env import EditBatch, SongBank

    bank = SongBank([analysis], config)
    batch = EditBatch(bank, config, n)
    batch.load(np.arange(n), np.zeros(n, dtype=np.int64))
    rng = np.random.default_rng(seed)
    for _ in range(analysis.n_beats):
        masks = batch.action_masks()
        batch.step(np.argmax(masks * rng.random(masks.shape), axis=1))
    return [batch.episode_actions(i) for i in range(n)]


def hamming(edits: list) -> float:
    import numpy as np

    return float(np.mean([np.mean(a != b) for i, a in enumerate(edits) for b in edits[i + 1 :]]))


def report(name: str, analyses: list, edits_per_song: list, config) -> None:
    import numpy as np

    from rl_editor.policy.dense_reward import edit_stats, score_edit

    target = config.reward.target_keep_share
    scores, bar_share, within, keep = [], [], [], []
    for analysis, edits in zip(analyses, edits_per_song):
        for actions in edits:
            scores.append(score_edit(analysis, actions, config.reward)["total"])
            stats = edit_stats(analysis, actions)
            bar_share.append(stats["bar_line_share"])
            keep.append(stats["duration_share"])
            within.append(abs(stats["duration_share"] - target) <= 0.1 * target)
    bars = [b for b in bar_share if not np.isnan(b)]
    bar_text = f"{np.mean(bars):6.1%}" if bars else "   n/a"
    print(f"  {name:16s} dense reward {np.mean(scores):8.2f} | splices on bar lines {bar_text} "
          f"| length {np.mean(keep):5.1%} of original (target {target:.0%}), within 10%: {np.mean(within):5.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 short songs, at most 400 episodes")
    parser.add_argument("--episodes", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import numpy as np

    from rl_editor.audio import analyze_song
    from rl_editor.audio.demo_songs import synthesize_corpus
    from rl_editor.audio.io import find_songs
    from rl_editor.policy.trainer import PolicyConfig, PPOTrainer

    n_songs, durations = (5, (50.0, 70.0)) if args.quick else (8, (60.0, 180.0))
    episodes = min(args.episodes, 400) if args.quick else args.episodes
    with tempfile.TemporaryDirectory() as folder:
        paths = synthesize_corpus(Path(folder), n_songs=n_songs, seed=0, duration_range_s=durations)
        analyses = [analyze_song(p) for p in paths]
    train, held_out = analyses[:-2], analyses[-2:]
    print(f"train on {len(train)} demo songs ({sum(a.n_beats for a in train)} beats), "
          f"hold out {len(held_out)} ({sum(a.n_beats for a in held_out)} beats)")

    trainer = PPOTrainer(PolicyConfig(seed=args.seed))
    start = time.perf_counter()
    trainer.train(episodes, analyses=train, progress=False)
    elapsed = time.perf_counter() - start
    steps = trainer.model.num_timesteps
    print(f"trained {len(trainer.history)} episodes ({steps} steps) in {elapsed:.1f} s ({steps / elapsed:,.0f} steps/s)")

    env_config = trainer.config.env_config()
    print("held-out demo songs:")
    report("trained (greedy)", held_out, [[trainer.generate_edit(a, temperature=0.0)] for a in held_out], env_config)
    report("random", held_out, [random_edits(a, 10, args.seed, env_config) for a in held_out], env_config)
    report("keep everything", held_out, [[np.zeros(a.n_beats, dtype=np.int8)] for a in held_out], env_config)

    print("temperature sweep (10 candidates per held-out song):")
    for temperature in (0.0, 0.1, 0.3, 0.5, 0.7, 0.9):
        per_song = [trainer.generate_edits(a, [temperature] * 10, list(range(10))) for a in held_out]
        cut_share = np.mean([np.mean(e == 1) for edits in per_song for e in edits])
        diversity = np.mean([hamming(edits) for edits in per_song])
        distinct = np.mean([len({e.tobytes() for e in edits}) for edits in per_song])
        report(f"T={temperature:.1f}", held_out, per_song, env_config)
        print(f"  {'':16s} cut share {cut_share:5.1%} | mean pairwise Hamming distance {diversity:.3f} "
              f"| distinct edits {distinct:.1f} of 10")

    music_dir = os.environ.get("RL_EDITOR_MUSIC_DIR")
    if music_dir:
        real = [analyze_song(song.path, song_id=song.song_id) for song in find_songs(music_dir)]
        print(f"real songs in RL_EDITOR_MUSIC_DIR ({len(real)}):")
        report("trained (greedy)", real, [[trainer.generate_edit(a, temperature=0.0)] for a in real], env_config)
        report("keep everything", real, [[np.zeros(a.n_beats, dtype=np.int8)] for a in real], env_config)


if __name__ == "__main__":
    main()

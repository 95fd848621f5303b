"""A briefly trained policy and a reward model trained on a musician's judgments of its edits.

Songs come from the session's short demo songs: the first three train, the
last one is held out.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="session")
def train_analyses(demo_analyses: list) -> list:
    return list(demo_analyses[:3])


@pytest.fixture(scope="session")
def heldout_analyses(demo_analyses: list) -> list:
    return list(demo_analyses[3:])


@pytest.fixture(scope="session")
def rlhf_policy_path(tmp_path_factory: pytest.TempPathFactory, train_analyses: list) -> Path:
    """A policy trained for a few dozen episodes on the dense reward."""
    from rl_editor.policy.trainer import PolicyConfig, PPOTrainer

    trainer = PPOTrainer(PolicyConfig(seed=0, n_envs=8, n_steps=64, batch_size=256, n_epochs=2))
    trainer.train(40, analyses=train_analyses, progress=False)
    return trainer.save_checkpoint(tmp_path_factory.mktemp("rlhf-policy") / "policy.pt")


def judged_pairs(policy_path: Path, analyses: list, rater_spec: str = "musician:mistake=0.1", n_edits: int = 16,
                 seed: int = 0) -> list:
    """A rater's judgments of random pairs of the policy's edits at several temperatures."""
    from rl_editor.edit import Edit
    from rl_editor.policy.trainer import PPOTrainer
    from rl_editor.preferences import EditRef, PreferencePair
    from rl_editor.raters import load_rater

    policy = PPOTrainer.from_checkpoint(policy_path)
    rater = load_rater(rater_spec, seed=seed)
    rng = np.random.default_rng(seed)
    pairs = []
    for a in analyses:
        temps = [0.5, 1.0, 1.5, 2.0] * (n_edits // 4)
        edits = policy.generate_edits(a, temps, [seed * 1000 + k for k in range(n_edits)])
        for _ in range(3 * n_edits):
            i, j = rng.choice(n_edits, size=2, replace=False)
            if np.array_equal(edits[i], edits[j]):
                continue
            judgment = rater.judge(a, Edit(a.song_id, edits[i]), Edit(a.song_id, edits[j]))
            pairs.append(PreferencePair(
                song_id=a.song_id,
                edit_a=EditRef("", [int(x) for x in edits[i]], 0.0, {"edit_id": f"{a.song_id}-{i}"}),
                edit_b=EditRef("", [int(x) for x in edits[j]], 0.0, {"edit_id": f"{a.song_id}-{j}"}),
                preference=judgment.preference, strength=judgment.strength, rater=rater.name,
                timestamp="2026-01-01T00:00:00", notes="",
            ))
    return pairs


@pytest.fixture(scope="session")
def rlhf_reward_path(tmp_path_factory: pytest.TempPathFactory, rlhf_policy_path: Path, train_analyses: list) -> Path:
    """A two-member reward ensemble trained on a musician's judgments of the policy's edits."""
    from rl_editor.reward import RewardTrainConfig, reward_meta, train_reward_model

    pairs = judged_pairs(rlhf_policy_path, train_analyses)
    config = RewardTrainConfig(epochs=15, members=2, seed=0, val_frac=0.0)
    ensemble, report = train_reward_model(pairs, config, analyses={a.song_id: a for a in train_analyses})
    path = tmp_path_factory.mktemp("rlhf-reward") / "reward.pt"
    ensemble.save(path, reward_meta(pairs, config, report, source="musician judgments"))
    return path

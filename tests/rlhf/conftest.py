"""A briefly trained policy and a reward model trained on a musician's judgments of its edits.

Songs come from the session's short demo songs: the first three train, the
last one is held out.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from rlhf_helpers import judged_pairs


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

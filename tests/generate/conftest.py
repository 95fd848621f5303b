"""A briefly trained policy and one reference generation run over the demo songs."""

from __future__ import annotations

from pathlib import Path

import pytest
from generate_helpers import TEMPERATURES


@pytest.fixture(scope="session")
def policy_path(tmp_path_factory: pytest.TempPathFactory, demo_analyses: list) -> Path:
    """A real policy checkpoint trained for a few episodes on the demo songs."""
    from rl_editor.policy.trainer import PolicyConfig, PPOTrainer

    trainer = PPOTrainer(PolicyConfig(seed=0, n_envs=4, n_steps=32, batch_size=64, n_epochs=2))
    trainer.train(4, analyses=demo_analyses, progress=False)
    path = tmp_path_factory.mktemp("policy") / "policy.pt"
    trainer.save_checkpoint(path)
    return path


@pytest.fixture(scope="session")
def reference_run(tmp_path_factory: pytest.TempPathFactory, policy_path: Path, demo_songs_dir: Path):
    """One in-process run (``workers=1``) over the four demo songs at five temperatures."""
    from rl_editor.generate import GenerateConfig, run_generation

    out = tmp_path_factory.mktemp("reference") / "out"
    config = GenerateConfig(policy_path, demo_songs_dir, out, temperatures=TEMPERATURES, workers=1, progress=False)
    return run_generation(config)

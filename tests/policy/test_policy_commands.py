"""``rl-editor train-policy`` end to end on the demo songs."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from rl_editor.audio.io import AnalysisError
from rl_editor.cli import app
from rl_editor.policy.errors import PolicyError
from rl_editor.policy.trainer import PPOTrainer


def test_train_policy_writes_a_checkpoint_and_learning_curves(demo_songs_dir, demo_analyses, tmp_path):
    out = tmp_path / "models" / "policy.pt"
    result = CliRunner().invoke(
        app,
        [
            "train-policy",
            "--songs",
            str(demo_songs_dir),
            "--episodes",
            "10",
            "--out",
            str(out),
            "--seed",
            "3",
            "--target-keep",
            "0.6",
            "--n-envs",
            "4",
        ],
    )
    assert result.exit_code == 0, result.output
    trainer = PPOTrainer.from_checkpoint(out)
    assert trainer.config.seed == 3 and trainer.config.target_keep_share == 0.6
    assert trainer.meta.trained_on["count"] == len(list(demo_songs_dir.glob("*.wav")))
    logs = tmp_path / "models" / "policy_logs"
    assert (logs / "learning_curve.csv").is_file() and list((logs / "tensorboard").rglob("events.*"))
    song = sorted(demo_songs_dir.glob("*.wav"))[0]
    actions, clip = trainer.generate_edit(song, temperature=0.0, render=True)
    analysis = next(a for a in demo_analyses if a.song_id == song.stem)
    np.testing.assert_array_equal(actions, trainer.generate_edit(analysis, temperature=0.0))
    played = np.where(actions == 1, 0, np.where(actions == 2, 2, 1))
    expected_s = float(np.sum(played * analysis.beat_durations_s))
    assert abs(clip.samples.shape[0] / clip.sample_rate - expected_s) < 0.01


def test_train_policy_names_a_missing_songs_folder(tmp_path):
    result = CliRunner().invoke(
        app, ["train-policy", "--songs", str(tmp_path / "nope"), "--out", str(tmp_path / "p.pt")]
    )
    assert isinstance(result.exception, AnalysisError)  # songs are found by rl_editor.audio.io.find_songs
    assert "nope" in str(result.exception) and not (tmp_path / "p.pt").exists()


def test_continuing_from_init_applies_the_seed_and_target_and_refuses_another_n_envs(demo_songs_dir, tmp_path):
    first = tmp_path / "p1.pt"
    base = ["train-policy", "--songs", str(demo_songs_dir), "--episodes", "4"]
    assert CliRunner().invoke(app, base + ["--out", str(first), "--n-envs", "4"]).exit_code == 0
    second = tmp_path / "p2.pt"
    result = CliRunner().invoke(
        app, base + ["--out", str(second), "--init", str(first), "--seed", "7", "--target-keep", "0.5"]
    )
    assert result.exit_code == 0, result.output
    continued = PPOTrainer.from_checkpoint(second)
    assert continued.config.seed == 7 and continued.config.target_keep_share == 0.5 and continued.config.n_envs == 4
    assert continued.meta.parent == PPOTrainer.from_checkpoint(first).meta.version
    refused = CliRunner().invoke(app, base + ["--out", str(tmp_path / "p3.pt"), "--init", str(first), "--n-envs", "8"])
    assert isinstance(refused.exception, PolicyError) and "trained with 4" in str(refused.exception)
    assert not (tmp_path / "p3.pt").exists()


def test_fine_tuning_refuses_options_it_would_ignore(demo_songs_dir, tmp_path):
    result = CliRunner().invoke(
        app,
        [
            "train-policy",
            "--songs",
            str(demo_songs_dir),
            "--out",
            str(tmp_path / "p.pt"),
            "--init",
            str(tmp_path / "p0.pt"),
            "--reward-model",
            str(tmp_path / "r.pt"),
            "--target-keep",
            "0.5",
        ],
    )
    assert isinstance(result.exception, PolicyError) and "--target-keep" in str(result.exception)


def test_a_continued_trainer_trains_with_its_own_settings_from_the_same_weights(demo_analyses):
    import torch

    from rl_editor.policy.trainer import PolicyConfig

    start = PPOTrainer(PolicyConfig(seed=0, n_envs=2, n_steps=16, batch_size=32))
    start.train(2, analyses=demo_analyses[:2], progress=False)
    weights = {k: v.clone() for k, v in start.model.policy.state_dict().items()}
    steps = start.model.num_timesteps
    tuned = start.continued(learning_rate=1e-5, ent_coef=0.0, gamma=1.0, n_steps=32)
    assert tuned.config.n_steps == 32 and tuned.config.learning_rate == 1e-5 and tuned.config.batch_size == 32
    assert start.config.n_steps == 16

    tuned.train(2, analyses=demo_analyses[:2], progress=False)
    model = tuned.model
    assert model is not start.model
    assert model.lr_schedule(1.0) == 1e-5 and model.ent_coef == 0.0 and model.rollout_buffer.gamma == 1.0
    assert model.rollout_buffer.buffer_size == 32 and model.num_timesteps > steps
    # training the continued policy changed its weights and left the one it started from as it was
    assert any(not torch.equal(weights[k], v) for k, v in model.policy.state_dict().items())
    assert all(torch.equal(weights[k], v) for k, v in start.model.policy.state_dict().items())


def test_continuing_refuses_a_setting_policies_do_not_have(demo_analyses):
    from rl_editor.policy.trainer import PolicyConfig

    start = PPOTrainer(PolicyConfig(seed=0, n_envs=2, n_steps=16, batch_size=32))
    start.train(1, analyses=demo_analyses[:1], progress=False)
    with pytest.raises(PolicyError, match="n_step"):
        start.continued(n_step=32)

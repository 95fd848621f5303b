"""``rl-editor train-policy`` end to end on the demo songs."""

from __future__ import annotations

import numpy as np
from typer.testing import CliRunner

from rl_editor.cli import app
from rl_editor.policy.env import PolicyError
from rl_editor.policy.trainer import PPOTrainer


def test_train_policy_writes_a_checkpoint_and_learning_curves(demo_songs_dir, demo_analyses, tmp_path):
    out = tmp_path / "models" / "policy.pt"
    result = CliRunner().invoke(app, [
        "train-policy", "--songs", str(demo_songs_dir), "--episodes", "10", "--out", str(out),
        "--seed", "3", "--target-keep", "0.6", "--n-envs", "4",
    ])
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
    result = CliRunner().invoke(app, ["train-policy", "--songs", str(tmp_path / "nope"), "--out", str(tmp_path / "p.pt")])
    assert isinstance(result.exception, PolicyError)
    assert "nope" in str(result.exception) and not (tmp_path / "p.pt").exists()

"""The RLHF commands turn bad input into one clear line and exit status 2."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow  # each test starts the CLI in a new Python


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rl_editor.cli", *args], capture_output=True, text=True, timeout=120)


def test_finetune_policy_names_a_missing_policy_file(tmp_path):
    proc = _run(
        "finetune-policy",
        "--init",
        str(tmp_path / "nope.pt"),
        "--reward-model",
        str(tmp_path / "r.pt"),
        "--songs",
        str(tmp_path),
        "--out",
        str(tmp_path / "out.pt"),
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: {tmp_path / 'nope.pt'}: no such model file"


def test_evaluate_says_what_it_needs(tmp_path):
    proc = _run("evaluate", "--old", str(tmp_path / "a.pt"))
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "error: evaluate needs --old, --new and --songs (or --campaign ID --db URL)"
    ]


def test_loop_refuses_a_missing_starting_policy(tmp_path, demo_songs_dir):
    proc = _run(
        "loop",
        "--songs",
        str(demo_songs_dir),
        "--heldout",
        "1",
        "--run-dir",
        str(tmp_path / "run"),
        "--policy",
        str(tmp_path / "missing.pt"),
    )
    assert proc.returncode == 2
    assert "missing.pt: no such policy file (--policy)" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_train_policy_with_a_reward_model_needs_a_starting_policy(tmp_path, demo_songs_dir):
    proc = _run(
        "train-policy",
        "--songs",
        str(demo_songs_dir),
        "--reward-model",
        str(tmp_path / "r.pt"),
        "--out",
        str(tmp_path / "out.pt"),
    )
    assert proc.returncode == 2
    assert "--reward-model needs --init POLICY" in proc.stderr and not (tmp_path / "out.pt").exists()


def test_train_policy_with_a_reward_model_fine_tunes_the_starting_policy(
    tmp_path, demo_songs_dir, rlhf_policy_path, rlhf_reward_path
):
    from rl_editor.registry import load_model_file

    out = tmp_path / "policy-v2.pt"
    proc = _run(
        "train-policy",
        "--songs",
        str(demo_songs_dir),
        "--init",
        str(rlhf_policy_path),
        "--reward-model",
        str(rlhf_reward_path),
        "--episodes",
        "8",
        "--kl-coef",
        "0.1",
        "--out",
        str(out),
    )
    assert proc.returncode == 0, proc.stderr
    _, meta = load_model_file(out, kind="policy")
    _, parent = load_model_file(rlhf_policy_path, kind="policy")
    _, reward = load_model_file(rlhf_reward_path, kind="reward")
    assert meta.parent == parent.version
    assert meta.trained_on["reward_model"] == reward.version
    # it says what fine-tuning kept, as the checkpoint records it
    from rl_editor.rlhf.acceptance import acceptance_text

    assert f"fine-tuning {acceptance_text(meta.metrics['acceptance'])}" in proc.stdout

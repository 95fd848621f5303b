"""Fine-tuning on a learned reward: the reward rises, the KL penalty holds the policy, lineage is recorded."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from rl_editor.errors import RlEditorError
from rl_editor.rlhf.finetune import FinetuneConfig, finetune_policy

pytestmark = pytest.mark.slow


def _config(**changes) -> FinetuneConfig:
    base = dict(
        episodes=300,
        n_steps=32,
        batch_size=128,
        n_epochs=4,
        learning_rate=1e-3,
        ent_coef=0.0,
        reference_edits_per_song=8,
    )
    return FinetuneConfig(**{**base, **changes})


@pytest.fixture(scope="module")
def finetuned(tmp_path_factory, rlhf_policy_path, rlhf_reward_path, train_analyses):
    logs = tmp_path_factory.mktemp("finetune-logs")
    trainer = finetune_policy(
        rlhf_policy_path, rlhf_reward_path, _config(kl_coef=0.02), analyses=train_analyses, log_dir=logs, progress=False
    )
    path = trainer.save_checkpoint(logs / "policy.pt")
    return trainer, path, logs


@pytest.fixture(scope="module")
def held_back(tmp_path_factory, rlhf_policy_path, rlhf_reward_path, train_analyses):
    logs = tmp_path_factory.mktemp("finetune-kl")
    # the KL is paid once per edit, at its end, so every decision of the edit shares its credit; a per-step
    # payment (reward-to-go) held the policy as close with about 2.5 times less weight
    return finetune_policy(
        rlhf_policy_path, rlhf_reward_path, _config(kl_coef=5.0), analyses=train_analyses, log_dir=logs, progress=False
    )


def _mean_learned(trainer, rlhf_reward_path, analyses, n=12, targets=None) -> float:
    from rl_editor.reward import load_reward_model

    ensemble = load_reward_model(rlhf_reward_path)
    scores = []
    for a in analyses:
        lengths = None if targets is None else [targets[k % len(targets)] for k in range(n)]
        edits = np.stack(trainer.generate_edits(a, [1.0] * n, list(range(n)), lengths))
        scores.append(ensemble.score(a, edits)[0].mean())
    return float(np.mean(scores))


def test_the_learned_reward_goes_up(finetuned, rlhf_policy_path, rlhf_reward_path, train_analyses):
    from rl_editor.policy.trainer import PPOTrainer

    trainer, _, _ = finetuned
    before = _mean_learned(PPOTrainer.from_checkpoint(rlhf_policy_path), rlhf_reward_path, train_analyses)
    after = _mean_learned(trainer, rlhf_reward_path, train_analyses)
    assert after > before
    # at fixed lengths too: fine-tuning improves which material goes, not only how much
    before_fixed = _mean_learned(
        PPOTrainer.from_checkpoint(rlhf_policy_path), rlhf_reward_path, train_analyses, targets=[0.5, 0.7]
    )
    assert _mean_learned(trainer, rlhf_reward_path, train_analyses, targets=[0.5, 0.7]) > before_fixed


def test_a_large_kl_coef_keeps_the_policy_near_its_start(finetuned, held_back):
    free, _, _ = finetuned
    last = lambda t: float(np.mean([r["kl"] for r in t.finetune_history[-40:]]))  # noqa: E731
    assert last(held_back) < last(free)
    assert last(held_back) < 1.0  # nats per edit of ~80 beats
    assert all(np.isfinite(r["kl"]) and r["kl"] > -1e-6 for r in held_back.finetune_history)


def test_the_checkpoint_records_its_parent_and_reward_model(finetuned, rlhf_policy_path, rlhf_reward_path):
    from rl_editor.registry import load_model_file

    _, path, _ = finetuned
    _, meta = load_model_file(path, kind="policy")
    _, init_meta = load_model_file(rlhf_policy_path)
    _, reward_meta = load_model_file(rlhf_reward_path)
    assert meta.parent == init_meta.version
    assert meta.trained_on["reward_model"] == reward_meta.version
    assert meta.trained_on["reward_source"] == reward_meta.version
    assert "finetune_mean_kl" in meta.metrics
    # what fine-tuning kept, and why: here the reward model is sure the new weights are better
    acceptance = meta.metrics["acceptance"]
    assert acceptance["weights"] == "new" and acceptance["changed"] is True
    assert acceptance["target"] == meta.metrics["preferred_target"]
    kept = [
        c
        for c in acceptance["combinations"]
        if c["weights"] == acceptance["weights"] and c["target"] == acceptance["target"]
    ]
    assert kept and kept[0]["lower_bound"] > 0


def test_learned_reward_kl_entropy_and_dense_terms_are_logged_side_by_side(finetuned):
    _, _, logs = finetuned
    with open(logs / "finetune_curve.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) >= 160
    for column in ("learned_reward", "learned_reward_raw", "kl", "kl_penalty", "entropy", "dense_total", "keep_share"):
        assert np.all(np.isfinite([float(r[column]) for r in rows])), column
    assert list((logs / "tensorboard").rglob("events.out.tfevents.*"))


def test_a_missing_reward_model_is_a_one_line_error(tmp_path, rlhf_policy_path, train_analyses):
    with pytest.raises(RlEditorError, match="no such model file"):
        finetune_policy(
            rlhf_policy_path, tmp_path / "missing.pt", _config(episodes=1), analyses=train_analyses, progress=False
        )


def test_episodes_ask_for_lengths_near_the_one_the_reward_model_prefers(finetuned):
    trainer, _, logs = finetuned
    with open(logs / "finetune_curve.csv", newline="") as f:
        targets = np.array([float(r["target"]) for r in csv.DictReader(f)])
    scores = trainer.meta.metrics["learned_reward_by_length"]
    from rl_editor.rlhf.finetune import best_length

    preferred = best_length({float(k): v for k, v in scores.items()})
    window = FinetuneConfig().target_window
    low, high = trainer.config.env.target_range
    low, high = max(low, preferred - window), min(high, preferred + window)  # the window, within the policy's range
    assert np.all((targets >= low - 1e-9) & (targets <= high + 1e-9))
    assert targets.max() - targets.min() > 0.8 * (high - low)  # drawn across the window, not one length

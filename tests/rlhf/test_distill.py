"""Best-of-N distillation moves a policy toward what a reward prefers about material, at the same length."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rl_editor.raters.tastes import TASTES, edit_criteria


class TasteAsReward:
    """A reward ensemble's scoring interface over a taste's noise-free score (one sure member)."""

    def __init__(self, taste_name: str) -> None:
        self.taste = TASTES[taste_name]

    def score(self, analysis, actions_batch):
        scores = self.taste.score_batch(analysis, list(np.atleast_2d(actions_batch)))
        return scores, np.zeros_like(scores)

    def member_scores(self, analysis, actions_batch):
        return self.score(analysis, actions_batch)[0][None, :]


def _mean_length(policy, analyses, target: float) -> float:
    shares = [
        float(a.beat_durations_s[e != 1].sum()) / a.duration_seconds
        for a in analyses
        for e in policy.generate_edits(a, [0.5] * 4, list(range(4)), [target] * 4)
    ]
    return float(np.mean(shares))


def _mean_criterion(policy, analyses, name: str, target: float) -> float:
    values = []
    for a in analyses:
        for edit in policy.generate_edits(a, [0.5] * 8, list(range(8)), [target] * 8):
            values.append(edit_criteria(a, edit)[name])
    return float(np.mean(values))


def test_distillation_toward_a_cold_open_cuts_more_of_the_intro_at_the_same_length(
    rlhf_policy_path: Path, train_analyses: list
):
    from rl_editor.policy.trainer import PPOTrainer
    from rl_editor.rlhf.distill import distill_best_of_n

    policy = PPOTrainer.from_checkpoint(rlhf_policy_path)
    before = _mean_criterion(policy, train_analyses, "cold_start", 0.75)
    length_before = _mean_length(policy, train_analyses, 0.75)
    result = distill_best_of_n(
        policy,
        TasteAsReward("cold_open"),
        train_analyses,
        [0.75],
        best_of=32,
        rounds=2,
        epochs=10,
        uncertainty_coef=0.0,
        seed=0,
    )
    after = _mean_criterion(policy, train_analyses, "cold_start", 0.75)
    assert result.decisions[0] > 0 and result.gains[0] > 0
    assert after > before + 0.1, (before, after)
    # demo songs are 25-35 s of 4-8 phrases: one phrase more or less is 0.1 of a song
    assert abs(_mean_length(policy, train_analyses, 0.75) - length_before) < 0.08


def test_content_noise_makes_equal_length_edits_that_cut_different_material(
    rlhf_policy_path: Path, train_analyses: list
):
    from rl_editor.policy.trainer import PPOTrainer

    policy = PPOTrainer.from_checkpoint(rlhf_policy_path)
    song = max(train_analyses, key=lambda a: a.n_beats)
    # greedy: the policy's one edit, and what a random preference for cutting sections makes of it
    plain = policy.generate_edits(song, [0.0] * 8, list(range(8)), [0.7] * 8)
    varied = policy.generate_edits(song, [0.0] * 8, list(range(8)), [0.7] * 8, content_noise=3.0)
    cut_sets = {tuple(np.flatnonzero(e == 1)) for e in varied}
    assert len({tuple(np.flatnonzero(e == 1)) for e in plain}) == 1
    assert len(cut_sets) >= 3
    durations = [float(song.beat_durations_s[e != 1].sum()) / song.duration_seconds for e in varied]
    assert max(durations) - min(durations) < 0.12
    # without content noise the same seeds give the same edits as before the option existed
    sampled = policy.generate_edits(song, [0.5] * 8, list(range(8)), [0.7] * 8)
    again = policy.generate_edits(song, [0.5] * 8, list(range(8)), [0.7] * 8, content_noise=0.0)
    assert all(np.array_equal(a, b) for a, b in zip(sampled, again))

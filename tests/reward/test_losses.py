"""Losses reward gaps that agree with the judgments."""

from __future__ import annotations

import numpy as np
import torch

from rl_editor.reward.losses import (
    OUTCOME_A,
    OUTCOME_B,
    OUTCOME_TIE,
    bradley_terry_loss,
    davidson_log_probabilities,
    mse_margin_loss,
)
from rl_editor.reward.model import Calibration, davidson_probabilities


def test_davidson_probabilities_sum_to_one_and_favour_the_higher_score():
    gaps = torch.tensor([-2.0, 0.0, 3.0])
    p = davidson_log_probabilities(gaps, torch.tensor(-1.0)).exp()
    assert torch.allclose(p.sum(dim=1), torch.ones(3))
    assert p[0, OUTCOME_B] > p[0, OUTCOME_A] and p[2, OUTCOME_A] > p[2, OUTCOME_B]
    assert torch.isclose(p[1, OUTCOME_A], p[1, OUTCOME_B])
    assert np.allclose(davidson_probabilities(gaps.numpy(), Calibration(1.0, -1.0)), p.numpy(), atol=1e-6)


def test_bt_loss_is_lower_when_the_gap_agrees_with_the_judgment():
    outcome = torch.tensor([OUTCOME_A, OUTCOME_B])
    strength = torch.tensor([1, 3])
    log_nu = torch.tensor(-1.0)
    good = bradley_terry_loss(torch.tensor([2.0, -2.0]), outcome, strength, log_nu)
    bad = bradley_terry_loss(torch.tensor([-2.0, 2.0]), outcome, strength, log_nu)
    assert good < bad


def test_bt_loss_for_a_tie_is_smallest_at_equal_scores():
    outcome = torch.tensor([OUTCOME_TIE])
    losses = [
        float(bradley_terry_loss(torch.tensor([g]), outcome, torch.tensor([1]), torch.tensor(0.0)))
        for g in (-2.0, 0.0, 2.0)
    ]
    assert losses[1] < losses[0] and np.isclose(losses[0], losses[2])


def test_strength_weights_make_strong_judgments_count_more():
    gap = torch.tensor([-1.0, 1.0], requires_grad=True)  # first pair wrong, second right
    loss = bradley_terry_loss(gap, torch.tensor([OUTCOME_A, OUTCOME_A]), torch.tensor([3, 1]), torch.tensor(-1.0))
    loss.backward()
    assert abs(gap.grad[0]) > abs(gap.grad[1])


def test_mse_margin_is_zero_when_gap_equals_signed_strength():
    target = torch.tensor([2.0, -1.0, 0.0])
    assert float(mse_margin_loss(target.clone(), target)) == 0.0
    assert float(mse_margin_loss(torch.zeros(3), target)) > 0.0


def test_ordinal_probabilities_cover_all_seven_answers_and_follow_the_gap():
    from rl_editor.reward.losses import ordinal_log_probability

    raw = torch.tensor([-1.0, 0.0, 0.0])
    answers = torch.arange(-3, 4).float()
    for gap in (-4.0, 0.0, 4.0):
        p = ordinal_log_probability(torch.full((7,), gap), answers, raw).exp()
        assert torch.isclose(p.sum(), torch.tensor(1.0), atol=1e-5)
        assert int(answers[p.argmax()]) == {-4.0: -3, 0.0: 0, 4.0: 3}[gap]

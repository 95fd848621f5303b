"""The pessimistic reward: the ensemble's mean less its spread, so uncertain edits lose their lead."""

from __future__ import annotations

import numpy as np
import pytest
from reward_helpers import make_analysis, random_edits

from rl_editor.reward import RewardTrainConfig, train_reward_model
from rl_editor.reward.model import RewardModelError
from rl_editor.reward.pessimism import pessimistic_reward


@pytest.fixture(scope="module")
def ensemble(songs, pairs):
    config = RewardTrainConfig(epochs=8, members=3, seed=0, val_frac=0.0)
    return train_reward_model(pairs, config, analyses={s.song_id: s for s in songs})[0]


def test_the_reward_is_the_members_mean_less_k_of_their_spread(ensemble, songs):
    song = songs[0]
    edits = random_edits(song, 12, seed=3)
    members = ensemble.member_scores(song, edits).astype(np.float64)
    score = pessimistic_reward(ensemble, song, edits, uncertainty_coef=1.5)
    np.testing.assert_allclose(score.mean, members.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(score.std, members.std(axis=0), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(score.reward, score.mean - 1.5 * score.std, rtol=1e-6)
    np.testing.assert_allclose(pessimistic_reward(ensemble, song, edits, 0.0).reward, score.mean)
    assert np.all(score.std > 0)  # bootstrap members trained apart do disagree


def test_pessimism_prefers_an_edit_the_members_agree_on(ensemble):
    """The pessimistic favourite of many edits is never less certain than the mean's favourite, and over
    songs it is the more certain one at least once (the members' spread moves the choice)."""
    moved = 0
    for seed in range(6):
        song = make_analysis(f"unseen{seed}", n_bars=18, seed=100 + seed)
        edits = random_edits(song, 40, seed=seed)
        score = pessimistic_reward(ensemble, song, edits, uncertainty_coef=2.0)
        favourite, cautious = int(np.argmax(score.mean)), int(np.argmax(score.reward))
        assert score.std[cautious] <= score.std[favourite] + 1e-9
        moved += cautious != favourite
    assert moved >= 1


@pytest.mark.parametrize("coef", [-0.5, float("nan")])
def test_a_negative_or_missing_coefficient_is_refused(ensemble, songs, coef):
    with pytest.raises(RewardModelError, match=r"^uncertainty_coef must be a number >= 0, got "):
        pessimistic_reward(ensemble, songs[0], random_edits(songs[0], 2, seed=1), coef)

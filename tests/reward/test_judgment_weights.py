"""A judgment's own weight (screening's reliability weight) counts in the loss and in the fit."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from reward_helpers import judged_pairs, make_analysis, random_edits, tiny_taste

from rl_editor.formats import Preference
from rl_editor.reward.losses import OUTCOME_A, OUTCOME_B, bradley_terry_loss, ordinal_loss
from rl_editor.reward.train import RewardTrainConfig, build_pair_data, train_reward_model

GAPS = torch.linspace(-3, 3, 601)


def best_gap(loss_of_gap) -> float:
    """The gap (on a fine grid) at which a loss of two judgments of one pair is smallest."""
    return float(GAPS[int(np.argmin([float(loss_of_gap(torch.stack([g, g]))) for g in GAPS]))])


@pytest.mark.parametrize("weights, sign", [((1.0, 1.0), 0), ((1.0, 0.25), 1), ((0.25, 1.0), -1)])
def test_down_weighting_one_of_two_conflicting_judgments_moves_the_best_gap_to_the_other(weights, sign):
    # one rater says A, the other says B, both slightly: equal weights leave the pair tied
    w = torch.tensor(weights)
    bt = best_gap(
        lambda gap: bradley_terry_loss(
            gap, torch.tensor([OUTCOME_A, OUTCOME_B]), torch.tensor([1, 1]), torch.tensor(-1.0), w
        )
    )
    ordinal = best_gap(lambda gap: ordinal_loss(gap, torch.tensor([1.0, -1.0]), torch.zeros(3), w))
    for gap in (bt, ordinal):
        assert np.sign(round(gap, 6)) == sign


def test_pair_data_multiplies_the_rater_weight_by_the_judgments_weight(songs):
    pairs = judged_pairs(songs, 2)
    pairs = [
        pairs[0].model_copy(update={"rater": "ann", "weight": 0.5}),
        pairs[1].model_copy(update={"rater": "bob", "weight": 1.0}),
    ]
    data = build_pair_data(pairs, {s.song_id: s for s in songs}, rater_weights={"ann": 0.8, "bob": 0.5})
    assert data.weight.tolist() == pytest.approx([0.4, 0.5])


def test_judgments_weighted_zero_do_not_teach_the_model(songs):
    from scipy.stats import spearmanr

    honest = judged_pairs(songs, 30, seed=3)
    flipped = [
        p.model_copy(
            update={"preference": Preference({"a": "b", "b": "a", "tie": "tie"}[p.preference]), "rater": "liar"}
        )
        for p in judged_pairs(songs, 60, seed=4)
    ]
    analyses = {s.song_id: s for s in songs}
    config = RewardTrainConfig(epochs=10, members=1, seed=0, val_frac=0.0)
    weighted, _ = train_reward_model(honest + [p.model_copy(update={"weight": 0.0}) for p in flipped], config, analyses)
    unweighted, _ = train_reward_model(honest + flipped, config, analyses)
    song = make_analysis("unseen", n_bars=22, seed=98)
    edits = random_edits(song, 60, seed=8)
    truth = [tiny_taste(song, a) for a in edits]
    agreement_weighted = spearmanr(weighted.score(song, edits)[0], truth).statistic
    agreement_unweighted = spearmanr(unweighted.score(song, edits)[0], truth).statistic
    assert agreement_weighted > 0.5 and agreement_weighted > agreement_unweighted + 0.3

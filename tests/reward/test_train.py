"""Training learns a taste from judged pairs, validates on whole songs, fine-tunes and weighs raters."""

from __future__ import annotations

import numpy as np
import pytest
from reward_helpers import judged_pairs, make_analysis, tiny_taste

from rl_editor.preferences import EditRef, PreferencePair
from rl_editor.reward.features import CUT
from rl_editor.reward.model import Calibration
from rl_editor.reward.train import (
    RewardTrainConfig,
    RewardTrainingError,
    preference_metrics,
    reward_meta,
    split_by_song,
    train_reward_model,
)


@pytest.fixture(scope="module")
def trained(songs, pairs):
    config = RewardTrainConfig(epochs=15, members=3, seed=0)
    return train_reward_model(pairs, config, analyses={s.song_id: s for s in songs})


def test_validation_accuracy_on_unseen_songs_is_high(trained):
    _, report = trained
    assert report.val_metrics["accuracy"] >= 0.8
    assert report.val_metrics["log_likelihood"] > np.log(1 / 3)
    assert 0.0 <= report.val_metrics["ece"] <= 0.2


def test_no_song_is_both_trained_on_and_validated_on(trained):
    _, report = trained
    assert report.val_songs and not set(report.val_songs) & set(report.train_songs)
    train, val = split_by_song(["a"] * 5 + ["b"] * 5 + ["c"] * 10, 0.3, seed=1)
    songs = np.array(["a"] * 5 + ["b"] * 5 + ["c"] * 10)
    assert not set(songs[train]) & set(songs[val])


def test_every_epoch_reports_validation_figures_and_best_epoch_is_kept(trained):
    _, report = trained
    first = report.history[0]
    assert {"val_accuracy", "val_log_likelihood", "val_ece", "val_accuracy_by_strength"} <= first.keys()
    for member, best in enumerate(report.best_epochs, start=1):
        lines = [h for h in report.history if h["member"] == member]
        assert best == max(lines, key=lambda h: h["val_log_likelihood"])["epoch"]


def test_ensemble_ranks_fresh_edits_like_the_taste(trained, songs):
    ensemble, _ = trained
    from reward_helpers import random_edits

    song = make_analysis("unseen", n_bars=22, seed=99)
    edits = random_edits(song, 60, seed=7)
    mean, _ = ensemble.score(song, edits)
    truth = np.array([tiny_taste(song, a) for a in edits])
    from scipy.stats import spearmanr

    assert spearmanr(mean, truth).statistic > 0.6


def test_fine_tuning_starts_from_the_parent_and_records_it(trained, songs):
    ensemble, report = trained
    config = RewardTrainConfig(epochs=2, members=3, seed=1)
    meta = reward_meta(judged_pairs(songs, 5), config, report)
    ensemble.meta = meta
    more = judged_pairs(songs, 10, seed=5)
    child, _ = train_reward_model(more, config, analyses={s.song_id: s for s in songs}, init=ensemble)
    child_meta = reward_meta(more, config, report, init=ensemble)
    assert child_meta.parent == meta.version
    assert child_meta.trained_on["count"] == len(more)
    assert np.allclose(child.members[0].feature_mean.numpy(), ensemble.members[0].feature_mean.numpy())


def test_rater_weight_zero_drops_a_lying_rater(songs):
    from reward_helpers import random_edits
    from scipy.stats import spearmanr

    honest = judged_pairs(songs, 30, seed=3)
    liar = []
    for p in judged_pairs(songs, 60, seed=4):
        flipped = {"a": "b", "b": "a", "tie": "tie"}[p.preference]
        liar.append(PreferencePair(p.song_id, p.edit_a, p.edit_b, flipped, p.strength, "liar", p.timestamp))
    analyses = {s.song_id: s for s in songs}
    base = dict(epochs=10, members=1, seed=0, val_frac=0.0)
    ignored, _ = train_reward_model(honest + liar, RewardTrainConfig(**base, rater_weights={"liar": 0.0}), analyses)
    trusted, _ = train_reward_model(honest + liar, RewardTrainConfig(**base), analyses)
    song = make_analysis("unseen", n_bars=22, seed=98)
    edits = random_edits(song, 60, seed=8)
    truth = [tiny_taste(song, a) for a in edits]
    agreement_ignored = spearmanr(ignored.score(song, edits)[0], truth).statistic
    agreement_trusted = spearmanr(trusted.score(song, edits)[0], truth).statistic
    assert agreement_ignored > 0.5
    assert agreement_ignored > agreement_trusted + 0.3


def test_actions_of_the_wrong_length_name_the_entry(songs):
    bad = PreferencePair(
        songs[0].song_id,
        EditRef("a.wav", [0, 1, 0], 1.0),
        EditRef("b.wav", [0, 0, 0], 1.0),
        "a",
        1,
        "r",
        "2026-01-01T00:00:00",
    )
    with pytest.raises(RewardTrainingError, match="entry 0.edit_a.actions"):
        train_reward_model([bad], RewardTrainConfig(epochs=1, members=1), analyses={s.song_id: s for s in songs})


def test_pairs_without_song_path_or_manifest_ask_for_a_manifest(pairs):
    with pytest.raises(RewardTrainingError, match="--manifest"):
        train_reward_model(pairs[:3], RewardTrainConfig(epochs=1, members=1))


def test_unknown_loss_is_rejected(songs, pairs):
    with pytest.raises(RewardTrainingError, match="bt, bt-ordinal, mse-margin"):
        train_reward_model(pairs, RewardTrainConfig(loss="hinge"), analyses={s.song_id: s for s in songs})


@pytest.mark.parametrize("loss", ["bt", "mse-margin"])
def test_other_losses_also_learn(songs, pairs, loss):
    _, report = train_reward_model(
        pairs, RewardTrainConfig(loss=loss, epochs=10, members=1), analyses={s.song_id: s for s in songs}
    )
    assert report.val_metrics["accuracy"] >= 0.75


def test_preference_metrics_of_perfect_gaps():
    outcomes = np.array([0, 1, 0, 2])
    gaps = np.array([3.0, -3.0, 1.0, 0.0])
    metrics = preference_metrics(gaps, outcomes, np.array([3, 3, 1, 1]), Calibration(1.0, -1.0))
    assert metrics["accuracy"] == 1.0
    assert metrics["accuracy_by_strength"] == {1: 1.0, 3: 1.0}
    assert metrics["n"] == 4
    assert CUT == 1

"""Safe improvement: a fine-tuned policy or length is kept only when the reward ensemble is sure it is better."""

from __future__ import annotations

import numpy as np
import pytest

from rl_editor.rlhf.acceptance import choose_improvement, lower_bound_of_gain
from rl_editor.rlhf.finetune import best_length


class _LengthPolicy:
    """Edits of a fixed keep share plus sampling noise; ``quality`` shifts every member's score of its edits."""

    def __init__(self, quality: float) -> None:
        self.quality = quality

    def generate_edits(self, song, temperatures, seeds, targets):
        out = []
        for seed, target in zip(seeds, targets):
            rng = np.random.default_rng(seed)
            keep = rng.random(song.n_beats) < target
            actions = np.where(keep, 0, 1).astype(np.int8)
            actions[0] = 0
            actions[-1] = 100 + int(round(self.quality * 10))  # carried to the scorer, never played
            out.append(actions)
        return out


class _Ensemble:
    """Members that like a keep share of ``liked`` and see ``quality``, each with its own ``bias`` per song."""

    def __init__(self, liked: float, member_noise: list[float]) -> None:
        self.liked, self.member_noise = liked, member_noise

    def member_scores(self, song, edits):
        edits = np.asarray(edits)
        quality = (edits[:, -1] - 100) / 10.0
        keep = (edits[:, :-1] == 0).mean(axis=1)
        base = -np.abs(keep - self.liked) * 10 + quality
        return np.stack([base + noise * quality for noise in self.member_noise])


class _Song:
    def __init__(self, song_id: str, n_beats: int = 400) -> None:
        self.song_id, self.n_beats = song_id, n_beats


SONGS = [_Song(f"song-{k}") for k in range(6)]


def test_a_length_the_members_agree_on_is_taken_with_the_previous_weights():
    decision = choose_improvement(
        _LengthPolicy(0.0),
        _LengthPolicy(0.0),
        _Ensemble(0.5, [0.0, 0.0, 0.0]),
        SONGS,
        previous_target=0.75,
        new_target=0.5,
    )
    assert decision.changed and decision.target == 0.5
    chosen = [c for c in decision.combinations if c.target == 0.5 and c.weights == decision.weights][0]
    assert chosen.lower_bound > 0 and chosen.gain > chosen.lower_bound


def test_better_weights_the_members_agree_on_are_kept():
    decision = choose_improvement(
        _LengthPolicy(0.0),
        _LengthPolicy(1.0),
        _Ensemble(0.75, [0.0, 0.1, -0.1]),
        SONGS,
        previous_target=0.75,
        new_target=0.75,
    )
    assert (decision.weights, decision.target) == ("new", 0.75)
    assert len(decision.combinations) == 2  # the same length twice is one option


def test_a_change_the_members_disagree_on_keeps_the_previous_policy():
    # the new weights' mean gain is positive, but one member thinks they are far worse
    decision = choose_improvement(
        _LengthPolicy(0.0),
        _LengthPolicy(0.3),
        _Ensemble(0.75, [2.0, 2.0, -6.0, 3.0]),
        SONGS,
        previous_target=0.75,
        new_target=0.75,
    )
    new = [c for c in decision.combinations if c.weights == "new"][0]
    assert new.gain > 0 and new.lower_bound < 0
    assert not decision.changed and decision.weights == "previous"
    assert decision.summary().startswith("kept the previous policy")
    assert decision.record()["changed"] is False


def test_the_lower_bound_adds_member_and_song_spread():
    gains = np.array([[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]])
    assert lower_bound_of_gain(gains, 1.0) == (1.0, 1.0)
    mean, bound = lower_bound_of_gain(np.array([[0.0, 2.0], [0.0, 2.0]]), 1.0)  # songs disagree
    assert mean == 1.0 and bound == pytest.approx(1.0 - np.std([0.0, 2.0], ddof=1) / np.sqrt(2))
    mean, bound = lower_bound_of_gain(np.array([[0.0, 0.0], [2.0, 2.0]]), 2.0)  # members disagree
    assert mean == 1.0 and bound == pytest.approx(1.0 - 2.0 * np.std([0.0, 2.0], ddof=1))


@pytest.mark.parametrize(
    ("scores", "expected"),
    [
        ({0.3: 0.0, 0.4: 1.0, 0.5: 1.0, 0.6: 0.0}, 0.45),  # two equal grid points: the middle
        ({0.3: -1.0, 0.4: 0.5, 0.5: 1.0, 0.6: 0.5}, 0.5),  # symmetric about a grid point: that point
        ({0.3: 1.0, 0.4: 0.5, 0.5: 0.0}, 0.3),  # best at an end: the end
        ({0.4: 0.0, 0.5: 1.0, 0.6: 1.0, 0.7: 1.0}, 0.55),  # flat to the right: stays within half a step
    ],
)
def test_the_best_length_is_refined_between_grid_points(scores, expected):
    assert best_length(scores) == pytest.approx(expected)


def test_an_episodes_baseline_follows_its_target_along_the_reference_curve():
    from rl_editor.rlhf.finetune import RewardStatistics

    stats = RewardStatistics(song_mean={"s": 0.25}, std=2.0, length_curve={"s": [[0.3, -1.0], [0.5, 1.0], [0.9, 0.0]]})
    assert stats.baseline("s", 0.4) == pytest.approx(0.0)
    assert stats.baseline("s", 0.7) == pytest.approx(0.5)
    assert stats.baseline("s", 0.2) == -1.0 and stats.baseline("s", 0.95) == 0.0  # held at the ends
    assert stats.baseline("s", float("nan")) == 0.25  # no target: the song's own length
    assert stats.baseline("other", 0.5) == 0.0

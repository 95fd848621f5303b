import math

import numpy as np
import pytest

from rl_editor.edit import Edit
from rl_editor.raters import NOISE_PRESETS, TASTES, Judgment, NoiseModel, RaterError, SimulatedRater, sample_edits
from rl_editor.raters.simulated import STRENGTH_THRESHOLDS, strength_from_gap


@pytest.fixture
def pairs(song):
    edits = [Edit(song.song_id, a) for a in sample_edits(song, 80, np.random.default_rng(21))]
    return [(edits[k], edits[k + 1]) for k in range(0, len(edits), 2)]


def judge_many(rater, song, pairs, repeats):
    return [rater.judge(song, a, b) for _ in range(repeats) for a, b in pairs]


def noiseless_choice(song, a, b):
    taste = TASTES["musician"]
    return "a" if taste.score(song, a) > taste.score(song, b) else "b"


def test_perfectly_rational_rater_is_deterministic_whatever_the_seed(song, pairs):
    first = SimulatedRater("r1", TASTES["musician"], NoiseModel(tie_threshold=0.0), seed=1)
    second = SimulatedRater("r2", TASTES["musician"], NoiseModel(tie_threshold=0.0), seed=2)
    answers = [(j.preference, j.strength) for j in judge_many(first, song, pairs, 2)]
    assert answers == [(j.preference, j.strength) for j in judge_many(second, song, pairs, 2)]
    assert [a for a, _ in answers[: len(pairs)]] == [noiseless_choice(song, a, b) for a, b in pairs]


def test_mistake_rate_flips_the_expected_share_of_answers(song, pairs):
    rater = SimulatedRater("careless", TASTES["musician"], NoiseModel(mistake=0.2, tie_threshold=0.0), seed=4)
    truth = [noiseless_choice(song, a, b) for a, b in pairs] * 50
    answers = [j.preference for j in judge_many(rater, song, pairs, 50)]
    flipped = np.mean([x != t for x, t in zip(answers, truth)])
    assert flipped == pytest.approx(0.2, abs=0.025)


def test_choice_probability_follows_bradley_terry(song, pairs):
    beta = 1.5
    rater = SimulatedRater("bt", TASTES["musician"], NoiseModel(beta=beta, tie_threshold=0.0), seed=5)
    a, b = pairs[0]
    gap = TASTES["musician"].score(song, a) - TASTES["musician"].score(song, b)
    share_a = np.mean([rater.judge(song, a, b).preference == "a" for _ in range(3000)])
    assert share_a == pytest.approx(1.0 / (1.0 + math.exp(-beta * gap)), abs=0.03)


def test_lower_rationality_agrees_less_with_the_taste(song, pairs):
    truth = [noiseless_choice(song, a, b) for a, b in pairs] * 20

    def agreement(beta):
        rater = SimulatedRater("x", TASTES["musician"], NoiseModel(beta=beta, tie_threshold=0.0), seed=6)
        return np.mean([j.preference == t for j, t in zip(judge_many(rater, song, pairs, 20), truth)])

    assert agreement(0.5) < agreement(5.0) < agreement(math.inf) == 1.0


def test_gaps_below_the_tie_threshold_are_ties_with_a_kind(song, pairs):
    threshold = 0.4
    rater = SimulatedRater("t", TASTES["musician"], NoiseModel(tie_threshold=threshold), seed=7)
    saw_tie = False
    for a, b in pairs:
        judgment = rater.judge(song, a, b)
        gap = judgment.score_a - judgment.score_b
        assert (judgment.preference == "tie") == (abs(gap) < threshold)
        if judgment.preference == "tie":
            saw_tie = True
            mean = (judgment.score_a + judgment.score_b) / 2
            assert judgment.tie_kind == ("both_good" if mean > 0 else "both_bad")
            assert judgment.strength == 1
        else:
            assert judgment.tie_kind is None
    assert saw_tie


def test_position_bias_picks_what_is_shown_as_a_when_unsure(song, pairs):
    unsure = [
        (a, b)
        for a, b in pairs
        if 0.0 < abs(TASTES["musician"].score(song, a) - TASTES["musician"].score(song, b)) < 0.5
    ]
    assert len(unsure) >= 5
    both_orders = unsure + [(b, a) for a, b in unsure]

    def share_a(bias):
        rater = SimulatedRater("p", TASTES["musician"], NoiseModel(tie_threshold=0.0, position_bias=bias), seed=8)
        return np.mean([j.preference == "a" for j in judge_many(rater, song, both_orders, 30)])

    assert share_a(0.0) == pytest.approx(0.5)
    assert share_a(0.6) == pytest.approx(0.5 + 0.6 / 2, abs=0.04)


def test_strength_grows_with_the_score_gap():
    assert strength_from_gap(0.1) == 1
    assert strength_from_gap(-(STRENGTH_THRESHOLDS[0] + 0.01)) == 2
    assert strength_from_gap(STRENGTH_THRESHOLDS[1] + 0.01) == 3


def test_answers_against_the_taste_are_slight(song, pairs):
    rater = SimulatedRater("m", TASTES["musician"], NoiseModel(mistake=1.0, tie_threshold=0.0), seed=9)
    for judgment in judge_many(rater, song, pairs, 1):
        assert judgment.strength == 1
        assert (judgment.preference == "a") == (judgment.score_a < judgment.score_b)


def test_notes_name_the_criterion_that_favours_the_winner(song):
    aligned = np.zeros(song.n_beats, dtype=np.int8)
    aligned[96:112] = 1
    off_beat = np.zeros(song.n_beats, dtype=np.int8)
    off_beat[98:114] = 1
    rater = SimulatedRater("n", TASTES["musician"], NoiseModel(), seed=0)
    judgment = rater.judge(song, Edit(song.song_id, off_beat), Edit(song.song_id, aligned))
    assert judgment.preference == "b"
    assert judgment.notes == "B: bar-aligned cuts"


def test_star_ratings_rank_good_edits_above_bad_ones(song):
    rater = SimulatedRater("stars", TASTES["musician"], NoiseModel(), seed=10)
    edits = [Edit(song.song_id, a) for a in sample_edits(song, 60, np.random.default_rng(2))]
    scores = np.array([TASTES["musician"].score(song, e) for e in edits])
    stars = np.array([rater.rate(song, e) for e in edits])
    assert set(stars) <= {1, 2, 3, 4} and len(set(stars)) >= 3
    assert stars[np.argmax(scores)] == 4 and stars[np.argmin(scores)] == 1
    assert np.all(np.diff(stars[np.argsort(scores)]) >= 0)


def test_myopia_needs_a_taste_that_supports_it():
    with pytest.raises(RaterError, match="myopia"):
        SimulatedRater("d", TASTES["dense"], NoiseModel(myopia=0.9))


@pytest.mark.parametrize("field,value", [("mistake", 1.5), ("beta", -1.0), ("myopia", 0.0), ("position_bias", -0.1)])
def test_out_of_range_noise_is_rejected(field, value):
    with pytest.raises(RaterError, match=field):
        NoiseModel(**{field: value})


def test_noise_presets_are_valid_noise_models():
    assert NOISE_PRESETS["oracle"].tie_threshold == 0.0
    assert all(isinstance(n, NoiseModel) for n in NOISE_PRESETS.values())


def test_judgment_rejects_values_outside_the_format():
    with pytest.raises(RaterError):
        Judgment("maybe")
    with pytest.raises(RaterError):
        Judgment("a", strength=5)

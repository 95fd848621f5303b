import math

import pytest

from rl_editor.rlhf.winrate import win_rate


def test_ties_are_counted_apart_from_the_win_rate():
    result = win_rate(["new"] * 30 + ["old"] * 10 + ["tie"] * 10)
    assert (result.wins, result.losses, result.ties, result.n) == (30, 10, 10, 50)
    assert result.win_rate == pytest.approx(0.75)
    assert result.ci_low < 0.75 < result.ci_high
    # one-sided exact binomial test of 30/40 against 0.5
    assert result.p_value == pytest.approx(0.001111, rel=1e-3)


def test_an_even_split_is_not_significant():
    result = win_rate(["new", "old"] * 20)
    assert result.win_rate == 0.5 and result.p_value > 0.5
    assert result.ci_low < 0.5 < result.ci_high


def test_no_decisive_judgment_gives_no_win_rate():
    result = win_rate(["tie", "tie"])
    assert math.isnan(result.win_rate) and result.p_value == 1.0


def test_unknown_outcomes_are_rejected():
    with pytest.raises(ValueError, match="unknown outcome 'a'"):
        win_rate(["a"])


def test_the_interval_is_two_sided():
    result = win_rate(["new"] * 30 + ["old"] * 10)
    assert 0.55 < result.ci_low < 0.75 < result.ci_high < 0.9

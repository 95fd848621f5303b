import math

import numpy as np
import pytest

from rl_editor.rlhf.winrate import WinRate, cluster_robust_interval, share_p_value, wilson_interval, win_rate


def _songs_of(outcomes_by_song: list[list[str]]) -> tuple[list[str], list[str]]:
    outcomes = [o for song in outcomes_by_song for o in song]
    songs = [f"song{k}" for k, song in enumerate(outcomes_by_song) for _ in song]
    return outcomes, songs


def test_the_headline_counts_a_tie_as_half_a_win():
    result = win_rate(["new"] * 30 + ["old"] * 10 + ["tie"] * 10)
    assert result.preference_share == pytest.approx((30 + 5) / 50)
    assert result.tie_share == pytest.approx(0.2)


def test_mostly_ties_and_a_few_wins_do_not_make_a_high_headline():
    # what a loop on real songs once reported as "new policy wins 93.3%, p = 0.0005"
    outcomes, songs = _songs_of([["new"] * 3 + ["tie"] * 37] * 4 + [["new", "new", "old"] + ["tie"] * 37]
                               + [["tie"] * 40])
    result = win_rate(outcomes, clusters=songs)
    assert (result.wins, result.losses, result.ties) == (14, 1, 225)
    assert result.win_rate == pytest.approx(14 / 15)
    assert result.preference_share == pytest.approx((14 + 225 / 2) / 240)
    assert result.share_ci_low < 0.5 < result.share_ci_high
    assert not result.target_met
    headline = result.summary().splitlines()[0]
    assert headline.startswith("new preferred 52.7% of 240 judgments (ties count half)")
    assert "target > 60%: not met" in headline and "93.3%" not in headline
    assert "ties 93.8% of judgments" in result.summary()


def test_the_target_is_judged_on_the_tie_inclusive_share():
    decisive_but_tied, songs = _songs_of([["new"] * 4 + ["tie"] * 16] * 6)  # wins every decisive judgment
    assert win_rate(decisive_but_tied, clusters=songs).win_rate == 1.0
    assert not win_rate(decisive_but_tied, clusters=songs).target_met
    preferred, songs = _songs_of([["new"] * 14 + ["old"] * 4 + ["tie"] * 2] * 6)
    result = win_rate(preferred, clusters=songs)
    assert result.preference_share == pytest.approx(0.75) and result.share_ci_low > 0.5 and result.target_met
    assert "target > 60%: met" in result.summary()


def test_without_songs_the_target_is_never_met():
    result = win_rate(["new"] * 50)
    assert result.preference_share == 1.0 and result.share_ci_low is None and not result.target_met
    assert "CI by song n/a (songs not recorded)" in result.summary()


@pytest.mark.parametrize("outcomes, songs, shown", [
    (["new", "old", "new", "tie"], ["a"] * 4, "n/a (1 song)"),
    # judgments on three songs, but decisive ones on only one of them
    (["new", "old", "new", "tie", "tie", "tie"], ["a", "a", "a", "b", "c", "c"], "n/a (1 song)"),
    (["tie"] * 6, ["a", "a", "b", "b", "c", "c"], "n/a (0 songs)"),
])
def test_an_interval_that_cannot_be_computed_is_not_printed_as_a_point(outcomes, songs, shown):
    result = win_rate(outcomes, clusters=songs)
    assert result.cluster_ci_low is None and result.cluster_ci_high is None
    assert result.decisive_interval_text() == shown
    assert f"CI by song {shown};" in result.summary()
    if len(set(songs)) > 1:
        assert result.share_ci_low < result.preference_share < result.share_ci_high
    else:
        assert result.share_ci_low is None and "CI by song n/a (1 song)" in result.headline()
    text = result.summary()
    for low in {result.ci_low, result.preference_share}:
        assert f"{low:.1%}-{low:.1%}" not in text


def test_songs_that_agree_exactly_still_get_an_interval_and_not_a_point():
    # every song all ties: the bootstrap alone collapses to 50.0%-50.0%
    outcomes, songs = _songs_of([["tie"] * 10] * 5)
    result = win_rate(outcomes, clusters=songs)
    assert result.preference_share == 0.5
    assert (result.share_ci_low, result.share_ci_high) == pytest.approx(wilson_interval(25, 50))
    assert result.share_ci_low < 0.4 and result.share_ci_high > 0.6


def test_the_song_clustered_headline_interval_is_wider_when_judgments_cluster_by_song():
    # 60 wins, 20 ties and 20 losses over 10 songs, each song's judgments alike or mixed
    together, songs = _songs_of([["new"] * 10] * 6 + [["tie"] * 10] * 2 + [["old"] * 10] * 2)
    mixed = list(np.random.default_rng(5).permutation(together))
    clustered, apart = win_rate(together, clusters=songs), win_rate(mixed, clusters=songs)
    assert clustered.preference_share == apart.preference_share == pytest.approx(0.7)
    wilson_low, wilson_high = wilson_interval(70, 100)
    clustered_width = clustered.share_ci_high - clustered.share_ci_low
    assert clustered_width > 2 * (wilson_high - wilson_low)
    assert clustered_width > 1.8 * (apart.share_ci_high - apart.share_ci_low)
    assert clustered.share_ci_low < 0.55 and not clustered.target_met
    assert apart.target_met


def test_the_wilson_interval_matches_scipys_for_whole_counts():
    from scipy.stats import binomtest

    ci = binomtest(30, 40).proportion_ci(method="wilson")
    assert wilson_interval(30, 40) == pytest.approx((ci.low, ci.high))


def test_the_cluster_robust_interval_needs_two_clusters_and_widens_as_they_get_fewer():
    assert cluster_robust_interval([3.0], [4.0]) is None
    low, high, se = cluster_robust_interval([3.0, 1.0, 2.0], [4.0, 4.0, 4.0])
    assert low < 0.5 < high and se > 0
    # the same per-song shares over more songs: a narrower interval (t on songs - 1 degrees of freedom)
    many = cluster_robust_interval([3.0, 1.0, 2.0] * 4, [4.0, 4.0, 4.0] * 4)
    assert many[1] - many[0] < (high - low) / 2


def test_the_share_p_value_counts_songs_not_judgments():
    # 3 songs all a little for new, with many judgments each: one-sided p is small but not tiny
    p_few = share_p_value([60.0, 55.0, 65.0], [100.0, 100.0, 100.0])
    assert 0.001 < p_few < 0.05
    assert share_p_value([40.0, 50.0], [100.0, 100.0]) > 0.5
    assert share_p_value([1.0], [2.0]) is None


def test_a_result_written_before_the_headline_reads_with_its_share():
    saved = {"wins": 14, "losses": 1, "ties": 225, "win_rate": 14 / 15, "ci_low": 0.7, "ci_high": 0.99,
             "p_value": 0.0005, "confidence": 0.95, "cluster_ci_low": 0.55, "cluster_ci_high": 0.55,
             "n_clusters": 1, "n": 240}
    result = WinRate.from_json(saved)
    assert result.preference_share == pytest.approx(126.5 / 240)
    assert result.n_songs == 1 and result.share_ci_low is None and not result.target_met


def test_a_result_survives_its_json():
    outcomes, songs = _songs_of([["new", "tie"], ["old", "new", "new"], ["tie"]])
    result = win_rate(outcomes, clusters=songs)
    again = WinRate.from_json(result.to_json())
    assert again == result and result.to_json()["tie_share"] == pytest.approx(2 / 6)


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


def test_the_song_interval_widens_when_a_songs_judgments_agree():
    # 60 wins and 40 losses over 10 songs of 10 judgments each, in two arrangements
    clustered, songs = _songs_of([["new"] * 10] * 6 + [["old"] * 10] * 4)
    mixed = list(np.random.default_rng(5).permutation(clustered))
    together = win_rate(clustered, clusters=songs)
    apart = win_rate(mixed, clusters=songs)
    assert (together.wins, together.losses) == (apart.wins, apart.losses) == (60, 40)
    assert (together.ci_low, together.ci_high) == (apart.ci_low, apart.ci_high)  # Wilson ignores the songs
    wilson_width = together.ci_high - together.ci_low
    clustered_width = together.cluster_ci_high - together.cluster_ci_low
    mixed_width = apart.cluster_ci_high - apart.cluster_ci_low
    assert clustered_width > 2 * wilson_width
    assert clustered_width > 2 * mixed_width
    assert mixed_width < 1.5 * wilson_width
    assert together.cluster_ci_low < 0.6 < together.cluster_ci_high and together.n_songs == 10


def test_clusters_must_match_the_outcomes():
    with pytest.raises(ValueError, match="2 clusters for 3 outcomes"):
        win_rate(["new", "old", "tie"], clusters=["a", "b"])


def test_the_summary_names_both_intervals_at_the_configured_level():
    outcomes, songs = _songs_of([["new"] * 5, ["old", "new"], ["new", "tie", "old"]])
    text = win_rate(outcomes, confidence=0.9, clusters=songs).summary()
    assert text.count("90% CI by song") == 2 and "over 3 songs" in text and "95%" not in text
    assert "Wilson" in text and "treat judgments as independent" in text

import math

import numpy as np
import pytest

from rl_editor.rlhf.winrate import (
    WinRate,
    cluster_robust_interval,
    share_p_value,
    two_way_cluster_interval,
    two_way_cluster_variance,
    wilson_interval,
    win_rate,
)


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
    outcomes, songs = _songs_of(
        [["new"] * 3 + ["tie"] * 37] * 4 + [["new", "new", "old"] + ["tie"] * 37] + [["tie"] * 40]
    )
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


@pytest.mark.parametrize(
    "outcomes, songs, shown",
    [
        (["new", "old", "new", "tie"], ["a"] * 4, "n/a (1 song)"),
        # judgments on three songs, but decisive ones on only one of them
        (["new", "old", "new", "tie", "tie", "tie"], ["a", "a", "a", "b", "c", "c"], "n/a (1 song)"),
        (["tie"] * 6, ["a", "a", "b", "b", "c", "c"], "n/a (0 songs)"),
    ],
)
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
    saved = {
        "wins": 14,
        "losses": 1,
        "ties": 225,
        "win_rate": 14 / 15,
        "ci_low": 0.7,
        "ci_high": 0.99,
        "p_value": 0.0005,
        "confidence": 0.95,
        "cluster_ci_low": 0.55,
        "cluster_ci_high": 0.55,
        "n_clusters": 1,
        "n": 240,
    }
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


def test_the_two_way_variance_matches_a_hand_computed_example():
    # 6 judgments, 2 songs x 2 raters; share 4/6, residuals y - 2/3:
    #   s1/r1: 1, 1 -> +1/3, +1/3    s1/r2: 0 -> -2/3    s2/r1: 0 -> -2/3    s2/r2: 1, 1 -> +1/3, +1/3
    y = [1, 1, 0, 0, 1, 1]
    songs = ["s1", "s1", "s1", "s2", "s2", "s2"]
    raters = ["r1", "r1", "r2", "r1", "r2", "r2"]
    v_song, v_rater, v_both, g_song, g_rater = two_way_cluster_variance(y, [1] * 6, songs, raters)
    # by song: sums 0 and 0; by rater: r1 {+1/3, +1/3, -2/3} = 0, r2 {-2/3, +1/3, +1/3} = 0
    assert (v_song, v_rater, g_song, g_rater) == pytest.approx((0.0, 0.0, 2, 2))
    # by cell: +2/3, -2/3, -2/3, +2/3 -> 4/3 * 4 * 4/9 = 64/27, over 6^2 judgments
    assert v_both == pytest.approx(64 / 27 / 36)
    # V = 0 + 0 - v_both is negative: the larger one-way variance (0) is used
    low, high, se, df = two_way_cluster_interval(y, [1] * 6, songs, raters)
    assert se == pytest.approx(0.0, abs=1e-12) and df == 1 and (low, high) == pytest.approx((4 / 6, 4 / 6))
    # win_rate then widens the collapsed interval to Wilson's, as it does the song-clustered one
    result = win_rate(["new" if v else "old" for v in y], clusters=songs, raters=raters)
    assert (result.share_ci_low, result.share_ci_high) == pytest.approx(wilson_interval(4, 6))


def test_a_second_hand_computed_example_adds_the_rater_variance():
    # 4 judgments: s1/r1 1, s1/r2 0, s2/r1 1, s2/r2 1; share 3/4; residuals +1/4, -3/4, +1/4, +1/4
    y, songs, raters = [1, 0, 1, 1], ["s1", "s1", "s2", "s2"], ["r1", "r2", "r1", "r2"]
    v_song, v_rater, v_both, _, _ = two_way_cluster_variance(y, [1] * 4, songs, raters)
    # song sums -1/2, +1/2 -> 2 * 1/2 = 1; rater sums +1/2, -1/2 -> 1; cells: 4/3 * 3/4 = 1; all over 16
    assert (v_song, v_rater, v_both) == pytest.approx((1 / 16, 1 / 16, 1 / 16))
    low, high, se, df = two_way_cluster_interval(y, [1] * 4, songs, raters)
    assert se == pytest.approx(0.25) and df == 1
    from scipy.stats import t

    half = float(t.ppf(0.975, 1)) * 0.25
    assert (low, high) == pytest.approx((max(0.0, 0.75 - half), min(1.0, 0.75 + half)))


def test_the_two_way_variance_matches_statsmodels():
    sandwich = pytest.importorskip("statsmodels.stats.sandwich_covariance")
    import statsmodels.api as sm

    rng = np.random.default_rng(3)
    songs = rng.integers(0, 6, size=200)
    raters = rng.integers(0, 5, size=200)
    lenient = np.array([0.2, 0.0, -0.1, 0.1, -0.2])
    y = (rng.random(200) < 0.55 + lenient[raters]).astype(float)
    v_song, v_rater, v_both, _, _ = two_way_cluster_variance(y, np.ones(200), songs.astype(str), raters.astype(str))
    fit = sm.OLS(y, np.ones((200, 1))).fit()
    both, by_song, by_rater = sandwich.cov_cluster_2groups(fit, songs, raters)
    assert v_song == pytest.approx(by_song[0, 0]) and v_rater == pytest.approx(by_rater[0, 0])
    assert v_song + v_rater - v_both == pytest.approx(both[0, 0])


def test_with_raters_known_the_interval_is_clustered_by_rater_and_song():
    # a lenient rater gives "new" everywhere, a strict one "old": rater clustering must widen the interval
    rng = np.random.default_rng(0)
    outcomes, songs, raters = [], [], []
    for song in range(8):
        for rater, p_new in (("lenient", 0.9), ("strict", 0.3), ("fair", 0.6)):
            for _ in range(10):
                outcomes.append("new" if rng.random() < p_new else "old")
                songs.append(f"s{song}")
                raters.append(rater)
    by_song = win_rate(outcomes, clusters=songs)
    both = win_rate(outcomes, clusters=songs, raters=raters)
    assert both.share_clustered_by == both.decisive_clustered_by == "rater and song" and both.n_raters == 3
    assert both.share_ci_high - both.share_ci_low > 2 * (by_song.share_ci_high - by_song.share_ci_low)
    assert both.share_p_value > by_song.share_p_value
    assert "95% CI by rater and song" in both.headline() and "over 8 songs and 3 raters" in both.headline()
    assert WinRate.from_json(both.to_json()) == both


def test_one_rater_falls_back_to_the_song_clustered_interval():
    outcomes, songs = _songs_of([["new", "new", "old"], ["new", "tie"], ["old", "new"]])
    alone = win_rate(outcomes, clusters=songs, raters=["ann"] * len(outcomes))
    assert alone.share_clustered_by == "song" and alone == win_rate(outcomes, clusters=songs).model_copy(
        update={"n_raters": 1, "decisive_raters": 1}
    )
    assert "CI by song" in alone.headline() and "raters" not in alone.headline()
    with pytest.raises(ValueError, match="raters for"):
        win_rate(outcomes, clusters=songs, raters=["ann"])

import math

import numpy as np
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


def _songs_of(outcomes_by_song: list[list[str]]) -> tuple[list[str], list[str]]:
    outcomes = [o for song in outcomes_by_song for o in song]
    songs = [f"song{k}" for k, song in enumerate(outcomes_by_song) for _ in song]
    return outcomes, songs


def test_the_song_bootstrap_interval_widens_when_a_songs_judgments_agree():
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
    assert together.cluster_ci_low < 0.6 < together.cluster_ci_high and together.n_clusters == 10


def test_the_song_bootstrap_is_deterministic_for_a_seed():
    outcomes, songs = _songs_of([["new", "new", "old"], ["old", "tie", "new"], ["new", "new", "new"], ["old", "old"]])
    first = win_rate(outcomes, clusters=songs, seed=4)
    assert win_rate(outcomes, clusters=songs, seed=4) == first
    others = {(w.cluster_ci_low, w.cluster_ci_high) for w in (win_rate(outcomes, clusters=songs, seed=s, resamples=50)
                                                              for s in range(5))}
    assert len(others) > 1


def test_one_song_gives_no_song_bootstrap_interval():
    result = win_rate(["new", "old", "new"], clusters=["a", "a", "a"])
    assert result.cluster_ci_low is None and result.cluster_ci_high is None and result.n_clusters == 1
    assert "no song-bootstrap CI with 1 song" in result.summary()


def test_clusters_must_match_the_outcomes():
    with pytest.raises(ValueError, match="2 clusters for 3 outcomes"):
        win_rate(["new", "old", "tie"], clusters=["a", "b"])


def test_the_summary_names_both_intervals_at_the_configured_level():
    outcomes, songs = _songs_of([["new"] * 5, ["old", "new"], ["new", "tie", "old"]])
    text = win_rate(outcomes, confidence=0.9, clusters=songs).summary()
    assert "song-bootstrap 90% CI" in text and "over 3 songs" in text
    assert "Wilson 90% CI" in text and "95%" not in text
    assert "treating judgments as independent" in text

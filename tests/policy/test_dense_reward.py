"""The dense reward: few bar-aligned splices beat many off-beat ones, lengths count against a target."""

from __future__ import annotations

import numpy as np
import pytest

from rl_editor.audio.structure import song_structure
from rl_editor.edit import CUT, KEEP, REPEAT
from rl_editor.policy.dense_reward import TERM_NAMES, DenseRewardConfig, edit_stats, score_edit


def _cut(n: int, start: int, length: int) -> np.ndarray:
    actions = np.full(n, KEEP, dtype=np.int8)
    actions[start : start + length] = CUT
    return actions


def test_bar_aligned_cut_scores_higher_than_off_beat_cut(synthetic_analyses):
    song = synthetic_analyses[0]
    aligned = _cut(song.n_beats, 16, 8)  # beats 16-23: leaves before a downbeat, lands on one
    off_beat = _cut(song.n_beats, 18, 8)
    a, b = score_edit(song, aligned), score_edit(song, off_beat)
    assert a["bar_line"] == 0.0 and b["bar_line"] < 0.0
    assert a["total"] > b["total"]
    assert edit_stats(song, aligned)["bar_line_share"] == 1.0


def test_one_long_cut_beats_many_short_ones_of_the_same_length(synthetic_analyses):
    song = synthetic_analyses[4]
    one = _cut(song.n_beats, 16, 16)
    many = np.full(song.n_beats, KEEP, dtype=np.int8)
    for start in (16, 32, 48, 64):
        many[start : start + 4] = CUT
    assert edit_stats(song, one)["duration_share"] == pytest.approx(edit_stats(song, many)["duration_share"])
    assert score_edit(song, one)["splice"] > score_edit(song, many)["splice"]
    assert edit_stats(song, one)["splices_per_minute"] < edit_stats(song, many)["splices_per_minute"]


def test_removing_a_whole_section_earns_the_section_term(song_factory):
    song = song_factory(3, n_bars=24)
    sections = song_structure(song).section_bounds_beats
    whole = _cut(song.n_beats, int(sections[2]), int(sections[3] - sections[2]))
    partial = _cut(song.n_beats, int(sections[2]) + 4, int(sections[3] - sections[2]))
    assert score_edit(song, whole)["section"] > 0 and score_edit(song, partial)["section"] == 0


def test_keep_everything_and_cut_almost_everything_are_penalised(synthetic_analyses):
    song = synthetic_analyses[1]
    n = song.n_beats
    keep_all = np.zeros(n, dtype=np.int8)
    cut_all = np.full(n, CUT, dtype=np.int8)
    cut_all[[0, -1]] = KEEP
    sensible = keep_all.copy()
    for start in range(8, n - 8, 16):  # one bar out of four, bar-aligned: keeps about 75%
        sensible[start : start + 4] = CUT
    scores = {
        name: score_edit(song, acts)
        for name, acts in {"keep_all": keep_all, "cut_all": cut_all, "sensible": sensible}.items()
    }
    assert scores["keep_all"]["degenerate"] < 0 and scores["cut_all"]["degenerate"] < 0
    assert scores["sensible"]["degenerate"] == 0
    assert scores["sensible"]["total"] > scores["keep_all"]["total"] > scores["cut_all"]["total"]


def test_repeats_cost_per_repeated_run_and_total_is_the_sum_of_terms(synthetic_analyses):
    song = synthetic_analyses[2]
    actions = _cut(song.n_beats, 16, 8)
    with_repeat = actions.copy()
    with_repeat[40:44] = REPEAT  # one bar played twice: one run, one splice
    plain, repeated = score_edit(song, actions), score_edit(song, with_repeat)
    assert repeated["repeat"] == -DenseRewardConfig().w_repeat
    assert edit_stats(song, with_repeat)["n_splices"] == edit_stats(song, actions)["n_splices"] + 1
    assert repeated["total"] < plain["total"]
    assert np.isclose(repeated["total"], sum(repeated[k] for k in TERM_NAMES))


def test_the_target_moves_the_best_length(synthetic_analyses):
    song = synthetic_analyses[3]
    short = _cut(song.n_beats, 8, 8)
    for start in range(24, song.n_beats - 10, 16):
        short[start : start + 8] = CUT
    share = edit_stats(song, short)["duration_share"]
    config = DenseRewardConfig()
    near, far = score_edit(song, short, config, target=share), score_edit(song, short, config, target=0.95)
    assert near["length"] == pytest.approx(0.0) and near["length_hit"] > 0
    assert far["length"] < 0 and far["length_hit"] == 0
    assert score_edit(song, short, DenseRewardConfig(target_keep_share=share))["total"] == pytest.approx(near["total"])

"""The dense reward: bar-aligned cuts beat off-beat cuts, degenerate edits lose."""

from __future__ import annotations

import numpy as np

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


def test_keep_everything_and_cut_almost_everything_are_penalised(synthetic_analyses):
    song = synthetic_analyses[1]
    n = song.n_beats
    keep_all = np.zeros(n, dtype=np.int8)
    cut_all = np.full(n, CUT, dtype=np.int8)
    cut_all[[0, -1]] = KEEP
    sensible = keep_all.copy()
    for start in range(8, n - 8, 16):  # one bar out of four, bar-aligned: keeps 75%
        sensible[start : start + 4] = CUT
    scores = {name: score_edit(song, acts) for name, acts in
              {"keep_all": keep_all, "cut_all": cut_all, "sensible": sensible}.items()}
    assert scores["keep_all"]["degenerate"] < 0 and scores["cut_all"]["degenerate"] < 0
    assert scores["sensible"]["degenerate"] == 0 and scores["sensible"]["length_hit"] > 0
    assert scores["sensible"]["total"] > scores["keep_all"]["total"] > scores["cut_all"]["total"]


def test_repeats_cost_and_total_is_the_sum_of_terms(synthetic_analyses):
    song = synthetic_analyses[2]
    actions = _cut(song.n_beats, 16, 8)
    with_repeat = actions.copy()
    with_repeat[40] = REPEAT
    plain, repeated = score_edit(song, actions), score_edit(song, with_repeat)
    assert repeated["repeat"] < 0 and repeated["total"] < plain["total"]
    assert np.isclose(repeated["total"], sum(repeated[k] for k in TERM_NAMES))


def test_target_keep_share_moves_the_best_length(synthetic_analyses):
    song = synthetic_analyses[3]
    short = _cut(song.n_beats, 8, 8)
    for start in range(24, song.n_beats - 10, 16):
        short[start : start + 8] = CUT
    long_target = DenseRewardConfig(target_keep_share=0.95)
    short_target = DenseRewardConfig(target_keep_share=0.5)
    assert score_edit(song, short, short_target)["length"] > score_edit(song, short, long_target)["length"]

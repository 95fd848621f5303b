"""Edit statistics computed from actions match the edit's real splices and structure."""

from __future__ import annotations

import numpy as np
from reward_helpers import make_analysis, random_edits

from rl_editor.audio.align import align_to_song
from rl_editor.edit import CUT, KEEP, REPEAT, beat_sequence, sequence_counts, splice_pairs
from rl_editor.reward.features import (
    CONTEXT_DIM,
    CONTEXT_NAMES,
    edit_context,
    section_ids,
    splice_table,
)


def column(context: np.ndarray, name: str) -> np.ndarray:
    return context[:, CONTEXT_NAMES.index(name)]


def test_splice_table_matches_splice_pairs_edit_by_edit():
    song = make_analysis("s", n_bars=12)
    edits = random_edits(song, 40, seed=3)
    rows, from_beats, to_beats = splice_table(song, edits)
    for k, actions in enumerate(edits):
        expected = sorted(map(tuple, splice_pairs(actions).tolist()))
        got = sorted(zip(from_beats[rows == k].tolist(), to_beats[rows == k].tolist()))
        assert got == expected


def test_keep_everything_has_no_splices_and_full_length():
    song = make_analysis("s", n_bars=8)
    context = edit_context(song, np.zeros(song.n_beats, dtype=np.int8))
    assert context.shape == (1, CONTEXT_DIM)
    assert column(context, "keep_share")[0] == 1.0
    assert np.isclose(column(context, "length_ratio")[0], 1.0)
    assert column(context, "log_n_splices")[0] == 0.0
    assert column(context, "no_splice")[0] == 1.0
    assert column(context, "section_coverage")[0] == 1.0


def test_whole_bar_cut_is_on_the_bar_line_and_off_beat_cut_is_not():
    song = make_analysis("s", n_bars=8)
    bar_cut = np.zeros(song.n_beats, dtype=np.int8)
    bar_cut[8:12] = CUT
    off_cut = np.zeros(song.n_beats, dtype=np.int8)
    off_cut[9:12] = CUT
    context = edit_context(song, np.stack([bar_cut, off_cut]))
    assert column(context, "splice_on_bar_line_share").tolist() == [1.0, 0.0]
    assert column(context, "cut_runs_whole_bars_share").tolist() == [1.0, 0.0]
    assert column(context, "splice_quality_mean")[0] > column(context, "splice_quality_mean")[1]
    assert np.isclose(column(context, "cut_share")[0], 4 / song.n_beats)


def test_cutting_a_whole_section_lowers_section_coverage():
    song = make_analysis("s", n_bars=16)  # four sections of 16 beats
    assert section_ids(song).max() == 3
    actions = np.zeros(song.n_beats, dtype=np.int8)
    actions[16:32] = CUT
    context = edit_context(song, actions)
    assert np.isclose(column(context, "section_coverage")[0], 0.75)
    assert column(context, "section_keep_min")[0] == 0.0


def test_sequence_counts_inverts_beat_sequence():
    song = make_analysis("s", n_bars=6)
    for actions in random_edits(song, 10, seed=5):
        assert np.array_equal(sequence_counts(song.n_beats, beat_sequence(actions)), actions)


def test_align_to_song_recovers_the_played_beats_from_noisy_features():
    song = make_analysis("s", n_bars=12, seed=2)
    actions = np.zeros(song.n_beats, dtype=np.int8)
    actions[16:24] = CUT
    actions[30] = REPEAT
    sequence = beat_sequence(actions)
    rng = np.random.default_rng(0)
    spread = song.features.std(axis=0)
    heard = song.features[sequence] + 0.1 * spread * rng.normal(size=(len(sequence), song.features.shape[1]))
    recovered = align_to_song(heard.astype(np.float32), song)
    assert np.mean(recovered == sequence) > 0.95
    assert np.mean(sequence_counts(song.n_beats, recovered) == actions) > 0.95
    assert KEEP == 0

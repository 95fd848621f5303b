"""Trimming an edit onto a requested length keeps its cuts the kind an editor makes."""

from __future__ import annotations

import numpy as np

from rl_editor.audio.structure import cut_alignment, song_structure
from rl_editor.edit import CUT, KEEP
from rl_editor.policy.dense_reward import duration_keep_share
from rl_editor.policy.length import fit_to_target


def test_trimming_onto_a_length_keeps_cuts_on_four_bars_or_section_ends(song_factory):
    song = song_factory(5, n_bars=24)  # sections of four bars
    structure = song_structure(song)
    bars = np.append(structure.bar_start_beats, song.n_beats)
    actions = np.full(song.n_beats, KEEP, dtype=np.int8)
    actions[bars[8] : bars[12]] = CUT  # the third section, one splice
    target = duration_keep_share(song, actions) - 1.0 / 24  # one bar shorter
    trimmed = fit_to_target(song, actions, target, tolerance=0.01)
    assert abs(duration_keep_share(song, trimmed) - target) <= 0.01 * target
    alignment = cut_alignment(structure, trimmed)
    assert alignment["n_cuts"] == 1 and alignment["four_bar_or_section_share"] == 1.0
    assert np.all(trimmed[bars[7] : bars[12]] == CUT)  # grown by a bar at its start: it still ends on section 4


def test_sliding_a_cut_keeps_its_bars_and_takes_the_smoothest_seam(song_factory):
    from rl_editor.audio.jumps import splice_point_cost
    from rl_editor.policy.length import slide_cuts_to_smooth_seams

    song = song_factory(7, n_bars=48)  # long enough to be edited in phrases
    bars = np.append(song_structure(song).bar_start_beats, song.n_beats)
    actions = np.full(song.n_beats, KEEP, dtype=np.int8)
    actions[bars[10] : bars[14]] = CUT  # four bars
    actions[bars[20] : bars[21]] = 2  # a repeated bar the slide must not run over
    slid = slide_cuts_to_smooth_seams(song, actions, max_slide_bars=2)
    runs = np.flatnonzero(np.diff(np.r_[0, slid == CUT, 0])).reshape(-1, 2)
    assert len(runs) == 1
    ((a, b),) = runs
    assert np.searchsorted(bars, b) - np.searchsorted(bars, a) == 4 and abs(np.searchsorted(bars, a) - 10) <= 2
    np.testing.assert_array_equal(slid[bars[20] : bars[21]], 2)
    options = [splice_point_cost(song, np.array(bars[10 + k] - 1), np.array(bars[14 + k])) for k in range(-2, 3)]
    assert splice_point_cost(song, np.array(a - 1), np.array(b)) == min(options)


def test_a_song_too_short_for_phrase_edits_keeps_its_cuts_where_the_policy_put_them(song_factory):
    from rl_editor.audio.structure import EDITORIAL_MIN_BARS, edited_in_phrases
    from rl_editor.policy.length import slide_cuts_to_smooth_seams

    short, long = song_factory(7, n_bars=EDITORIAL_MIN_BARS - 4), song_factory(7, n_bars=EDITORIAL_MIN_BARS)
    assert not edited_in_phrases(song_structure(short)) and edited_in_phrases(song_structure(long))
    moved = []
    for song in (short, long):
        bars = np.append(song_structure(song).bar_start_beats, song.n_beats)
        actions = np.full(song.n_beats, KEEP, dtype=np.int8)
        actions[bars[10] : bars[14]] = CUT
        moved.append(not np.array_equal(slide_cuts_to_smooth_seams(song, actions, max_slide_bars=4), actions))
    assert moved == [False, True]

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


"""Splice quality on real features of the demo songs, whose sections and bars are known."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from rl_editor.audio.splice import splice_components, splice_quality, splice_quality_matrix


def _section_of_each_beat(analysis) -> tuple[np.ndarray, list[str]]:
    truth = json.loads(Path(analysis.path).with_suffix(".json").read_text())
    section = np.full(analysis.n_beats, -1)
    names = []
    for k, s in enumerate(truth["sections"]):
        inside = (analysis.beat_times_s >= s["start_s"] - 0.05) & (analysis.beat_times_s < s["end_s"] - 0.05)
        section[inside] = k
        names.append(s["name"])
    return section, names


def _splice_kinds(analysis) -> dict[str, list[tuple[int, int]]]:
    """Splices from the last beat of a bar to: the same bar phase one phrase later in the same
    section; a downbeat in a differently named section; an off-beat in the same section."""
    section, names = _section_of_each_beat(analysis)
    bib = analysis.beat_in_bar
    kinds: dict[str, list[tuple[int, int]]] = {"phrase": [], "across": [], "offbeat": []}
    for i in np.flatnonzero((bib == 3) & (section >= 0)):
        for j in range(i + 5, min(analysis.n_beats, i + 48)):
            if section[j] < 0:
                continue
            if j == i + 17 and section[j] == section[i]:
                kinds["phrase"].append((i, j))
            elif bib[j] == 0 and names[section[j]] != names[section[i]]:
                kinds["across"].append((i, j))
            elif bib[j] == 2 and section[j] == section[i]:
                kinds["offbeat"].append((i, j))
    return kinds


def test_phrase_splices_beat_section_jumps_which_beat_off_beat_splices(demo_analyses):
    scores: dict[str, list[float]] = {"phrase": [], "across": [], "offbeat": []}
    for a in demo_analyses:
        for kind, pairs in _splice_kinds(a).items():
            if pairs:
                p = np.asarray(pairs)
                scores[kind].extend(splice_quality(a, p[:, 0], p[:, 1]))
    assert all(len(v) >= 5 for v in scores.values()), {k: len(v) for k, v in scores.items()}
    phrase, across, offbeat = (np.mean(scores[k]) for k in ("phrase", "across", "offbeat"))
    assert phrase > across + 0.1
    assert across > offbeat + 0.1


def test_components_see_what_changes_at_a_section_jump(demo_analyses):
    """Jumping between sections changes loudness and timbre more than a phrase repeat does."""
    energy = {"phrase": [], "across": []}
    timbre = {"phrase": [], "across": []}
    for a in demo_analyses:
        kinds = _splice_kinds(a)
        for kind in ("phrase", "across"):
            if kinds[kind]:
                p = np.asarray(kinds[kind])
                c = splice_components(a, p[:, 0], p[:, 1])
                energy[kind].extend(c.energy)
                timbre[kind].extend(c.timbre)
    assert np.mean(energy["phrase"]) > np.mean(energy["across"])
    assert np.mean(timbre["phrase"]) > np.mean(timbre["across"])


def test_the_natural_continuation_is_a_perfect_splice_and_the_matrix_agrees(demo_analyses):
    a = demo_analyses[0]
    i = np.arange(a.n_beats - 1)
    c = splice_components(a, i, i + 1)
    np.testing.assert_allclose(c.timbre, 1.0, atol=1e-6)
    np.testing.assert_array_equal(c.bar_phase, 1.0)
    matrix = splice_quality_matrix(a)
    assert matrix.shape == (a.n_beats, a.n_beats)
    assert 0.0 <= matrix.min() and matrix.max() <= 1.0 + 1e-6
    np.testing.assert_allclose(matrix[i, i + 1], splice_quality(a, i, i + 1), atol=1e-6)

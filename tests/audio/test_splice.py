"""Splice quality on real features of the demo songs (whose sections and bars are known), and the sample-level
search that joins a splice: entry slide, crossfade length and gains, loudness match."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rl_editor.audio.splice import (
    best_entry_offsets,
    choose_crossfades,
    crossfade_gains,
    loudness_gains,
    splice_components,
    splice_quality,
    splice_quality_matrix,
)


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


# Sample-level splice points ---------------------------------------------------


def test_the_entry_search_finds_where_the_continuation_reappears_in_noise():
    """Noise repeated 37 samples late around the entry: the search slides the entry by exactly that."""
    rng = np.random.default_rng(0)
    samples = rng.normal(size=20000)
    continuation, entry, delay = 5000, 14000, 37
    samples[entry - 600 + delay : entry + 600 + delay] = samples[continuation - 600 : continuation + 600]
    offsets, correlations = best_entry_offsets(
        samples, np.array([continuation]), np.array([entry]), max_offset=200, window=800
    )
    assert offsets[0] == delay and correlations[0] == pytest.approx(1.0, abs=1e-5)
    unrelated, low = best_entry_offsets(samples, np.array([continuation]), np.array([2000]), max_offset=200, window=800)
    assert abs(low[0]) < 0.2


def test_chained_splices_follow_the_slide_of_the_run_between_them():
    """The run entered at the first splice is left at the second, so its slide moves that continuation."""
    rng = np.random.default_rng(1)
    samples = rng.normal(size=40000)
    samples[10000 + 50 - 600 : 10000 + 50 + 600] = samples[3000 - 600 : 3000 + 600]  # splice 1: slide 50
    samples[30000 - 20 - 600 : 30000 - 20 + 600] = samples[16050 - 600 : 16050 + 600]  # splice 2 leaves at 16000 + 50
    continuations, entries = np.array([3000, 16000]), np.array([10000, 30000])
    chained, _ = best_entry_offsets(samples, continuations, entries, max_offset=200, window=800, chained=True)
    assert list(chained) == [50, -20]
    independent, _ = best_entry_offsets(samples, continuations, entries, max_offset=200, window=800)
    assert list(independent) == [50, -70]  # matched to where the first run would have been without its slide


def test_crossfade_gains_keep_the_power_for_unrelated_and_for_identical_audio():
    fade_out, fade_in = crossfade_gains(400, correlation=0.0)
    np.testing.assert_allclose(fade_out**2 + fade_in**2, 1.0, atol=1e-6)
    fade_out, fade_in = crossfade_gains(400, correlation=1.0)
    np.testing.assert_allclose(fade_out + fade_in, 1.0, atol=1e-6)
    fade_out, fade_in = crossfade_gains(400, correlation=0.6)
    np.testing.assert_allclose(fade_out**2 + fade_in**2 + 2 * 0.6 * fade_out * fade_in, 1.0, atol=1e-6)
    assert fade_in[0] < 0.01 and fade_in[-1] > 0.99 and np.all(np.diff(fade_in) > 0)


def test_coherent_sides_get_the_longest_crossfade_and_unrelated_ones_the_shortest():
    rng = np.random.default_rng(2)
    t = np.arange(30000) / 16000
    hum = np.sin(2 * np.pi * 110 * t)  # one period is 16000 / 110 samples
    noise = rng.normal(size=t.size)
    lengths = (160, 320, 640, 1280)
    period_later = 5000 + round(16000 / 110 * 20)
    long_fade, correlation = choose_crossfades(hum, np.array([5000]), np.array([period_later]), lengths, 0.5)
    assert long_fade[0] == 1280 and correlation[0] > 0.99
    short_fade, correlation = choose_crossfades(noise, np.array([5000]), np.array([20000]), lengths, 0.5)
    assert short_fade[0] == 160 and abs(correlation[0]) < 0.5


def test_loudness_gains_match_the_continuation_level_within_the_limit():
    samples = np.concatenate([np.full(1000, 0.1), np.full(1000, 0.2), np.full(1000, 0.8), np.zeros(1000)])[:, None]
    gains = loudness_gains(samples, np.array([0, 0, 0]), np.array([1000, 2000, 3000]), window=500, max_gain_db=10.0)
    assert gains[0] == pytest.approx(0.5)
    assert gains[1] == pytest.approx(10 ** (-10 / 20))  # 0.125 (-18 dB) asked, clipped to -10 dB
    assert gains[2] == 1.0  # silence is not brought up

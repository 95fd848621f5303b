"""Song structure: bars, phrases and labelled sections from the beat analysis."""

from __future__ import annotations

import json
from pathlib import Path

import mir_eval
import numpy as np
import pytest

from rl_editor.audio import analyze_song
from rl_editor.audio.structure import bar_starts, compute_structure, cut_alignment, song_structure


@pytest.fixture(scope="module")
def demo_songs_with_sections(tmp_path_factory) -> list[tuple]:
    """Three 1-2 minute demo songs (intro, verses, choruses, bridge, outro) with their ground truth."""
    from rl_editor.audio.demo_songs import synthesize_corpus

    folder = tmp_path_factory.mktemp("structure-songs")
    paths = synthesize_corpus(folder, n_songs=3, seed=3, duration_range_s=(60.0, 120.0))
    return [(analyze_song(p), json.loads(Path(p).with_suffix(".json").read_text())) for p in paths]


def _check_nesting(structure, n_beats: int) -> None:
    assert structure.bar_start_beats[0] == 0 and structure.phrase_start_beats[0] == 0
    assert np.all(np.diff(structure.bar_start_beats) > 0)
    assert set(structure.phrase_start_beats) <= set(structure.bar_start_beats)
    assert set(structure.section_start_beats) <= set(structure.phrase_start_beats)
    assert len(structure.section_labels) == structure.n_sections
    assert structure.phrase_bounds_beats[-1] == n_beats


def test_pickup_beats_join_the_first_bar():
    assert bar_starts(np.array([2, 3, 0, 1, 2, 3, 0, 1, 2, 3])).tolist() == [0, 6]
    assert bar_starts(np.array([0, 1, 2, 0, 1, 2])).tolist() == [0, 3]


def test_sections_are_found_where_the_song_changes(demo_songs_with_sections):
    scores = []
    for analysis, truth in demo_songs_with_sections:
        structure = song_structure(analysis)
        _check_nesting(structure, analysis.n_beats)
        reference = np.array([s["start_s"] for s in truth["sections"]][1:])
        estimate = analysis.beat_times_s[structure.section_start_beats[1:]]
        bar_seconds = 4 * 60.0 / analysis.tempo_bpm
        scores.append(mir_eval.onset.f_measure(reference, estimate, window=0.6 * bar_seconds)[0])
    assert np.mean(scores) >= 0.7, scores


def test_a_repeated_chorus_shares_the_label_of_the_first(demo_songs_with_sections):
    shared = 0
    for analysis, truth in demo_songs_with_sections:
        structure = song_structure(analysis)
        times = analysis.beat_times_s[structure.section_start_beats]
        chorus_starts = [s["start_s"] for s in truth["sections"] if s["name"] == "chorus"]
        labels = [structure.section_labels[int(np.argmin(np.abs(times - t)))] for t in chorus_starts]
        shared += labels.count(max(set(labels), key=labels.count)) >= 2
    assert shared >= 2


def test_phrases_are_four_bars_in_long_songs_and_shorter_in_short_ones(song_and_bars):
    long_song, short_song = song_and_bars(120), song_and_bars(30)
    long_structure, short_structure = compute_structure(long_song), compute_structure(short_song)
    long_bars = np.diff(np.searchsorted(long_structure.bar_start_beats, long_structure.phrase_bounds_beats))
    assert np.median(long_bars) == 4
    short_bars = np.diff(np.searchsorted(short_structure.bar_start_beats, short_structure.phrase_bounds_beats))
    assert np.median(short_bars) == 1 and short_structure.n_phrases >= 24


def test_structure_is_json_ready_and_cached_on_the_analysis(song_and_bars):
    song = song_and_bars(64)
    first = song_structure(song)
    assert song_structure(song) is first
    data = json.loads(json.dumps(first.to_json()))
    assert data["phrase_start_beats"] == first.phrase_start_beats.tolist()
    assert len(data["section_labels"]) == len(data["section_start_beats"])


def test_cut_alignment_tells_whole_phrase_cuts_from_ragged_ones(song_and_bars):
    song = song_and_bars(120)
    structure = compute_structure(song)
    bounds = structure.phrase_bounds_beats
    whole = np.zeros(song.n_beats, dtype=np.int8)
    whole[bounds[2] : bounds[4]] = 1
    ragged = np.zeros(song.n_beats, dtype=np.int8)
    ragged[bounds[2] + 1 : bounds[4] - 2] = 1
    assert cut_alignment(structure, whole) == {
        "n_cuts": 1.0,
        "whole_phrase_share": 1.0,
        "four_bar_or_section_share": 1.0,
    }
    assert cut_alignment(structure, ragged)["whole_phrase_share"] == 0.0
    assert np.isnan(cut_alignment(structure, np.zeros(song.n_beats))["whole_phrase_share"])


@pytest.mark.real_music
def test_real_songs_get_nested_structure_quickly(real_music_short_dir):
    import time

    for path in sorted(real_music_short_dir.glob("*.ogg")):
        analysis = analyze_song(path)
        start = time.perf_counter()
        structure = compute_structure(analysis)
        assert time.perf_counter() - start < 1.0
        _check_nesting(structure, analysis.n_beats)
        assert structure.n_phrases >= 8


def test_phrase_cut_table_allows_four_bar_multiples_and_cuts_up_to_a_section():
    """Bars of 4 beats; sections start at bars 0, 6 and 14; phrases of 2 bars from each section start."""
    from rl_editor.audio.structure import SongStructure, phrase_cut_table

    bars = np.arange(20) * 4
    phrase_bars = np.array([0, 2, 4, 6, 8, 10, 12, 14, 16, 18])
    structure = SongStructure(
        n_beats=80,
        bar_start_beats=bars,
        phrase_start_beats=bars[phrase_bars],
        section_start_beats=bars[[0, 6, 14]],
        section_labels=("A", "B", "A"),
    )
    table = phrase_cut_table(structure, max_phrases=4)
    assert table.shape == (10, 6)
    assert not table[:, 0].any() and not table[:, 5].any()  # no empty cut, none longer than 4 phrases
    assert table[1, 2]  # bars 2-5: four bars
    assert table[2, 1]  # bars 4-5: ends where section B starts
    assert not table[1, 1]  # bars 2-3: two bars, inside section A
    assert table[3, 2] and not table[3, 1] and not table[3, 3]  # from bar 6: 4 bars, not 2 or 6
    assert table[5, 2]  # bars 10-13: four bars that also end on section A's return
    assert not table[8].any()  # a cut from bar 16 would have to remove the last phrase

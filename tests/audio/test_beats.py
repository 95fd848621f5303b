"""The bar model: meter and bar phase from per-beat evidence, on audio the tests synthesize."""

from __future__ import annotations

import mir_eval
import numpy as np
import pytest

from rl_editor.audio.analyze import analyze_clip
from rl_editor.audio.beats import estimate_bars, meter_score
from rl_editor.audio.io import AudioClip

SR = 22050


def bar_signal(beats_per_bar: int, *, seconds: float = 30.0, bpm: float = 120.0, first_beat_s: float = 0.3):
    """A band in ``beats_per_bar`` time: kick + bass on each bar's first beat, hi-hat ticks on the
    others, a chord that changes every bar. Returns (mono samples, beat times s, downbeat times s)."""
    rng = np.random.default_rng(beats_per_bar)
    n = int(seconds * SR)
    y = np.zeros(n)
    beat_s = 60.0 / bpm
    beats = np.arange(first_beat_s, seconds - beat_s, beat_s)
    chords = ([220.0, 277.2, 329.6], [196.0, 246.9, 293.7], [174.6, 220.0, 261.6], [164.8, 207.7, 246.9])
    hit = np.arange(int(0.12 * SR)) / SR
    for k, start_s in enumerate(beats):
        start = int(start_s * SR)
        if k % beats_per_bar == 0:
            bar = k // beats_per_bar
            length = min(int(beats_per_bar * beat_s * SR), n - start)
            t = np.arange(length) / SR
            chord = sum(np.sin(2 * np.pi * f * t) for f in chords[bar % len(chords)])
            y[start : start + length] += 0.05 * chord * np.exp(-t / 1.5)
            kick = np.sin(2 * np.pi * 55.0 * hit) * np.exp(-hit / 0.04)
            y[start : start + hit.size] += 0.9 * kick[: n - start]
        else:
            tick = np.diff(rng.standard_normal(hit.size + 2), n=2) * np.exp(-hit / 0.01)  # high-passed noise
            y[start : start + hit.size] += 0.04 * tick[: n - start]
    y += 0.03 * np.sin(2 * np.pi * 82.4 * np.arange(n) / SR)  # a held bass note, as under most music
    y = (0.8 * y / np.abs(y).max()).astype(np.float32)
    return y, beats, beats[::beats_per_bar]


@pytest.mark.parametrize("beats_per_bar", [3, 4])
def test_the_bar_model_finds_the_meter_and_the_downbeats(beats_per_bar):
    y, _, downbeats = bar_signal(beats_per_bar)
    analysis = analyze_clip(AudioClip(y, SR), song_id="bars", path="<bars>", content_sha256="0" * 64)
    assert analysis.beats_per_bar == beats_per_bar
    assert set(np.unique(analysis.beat_in_bar)) == set(range(beats_per_bar))
    trim = mir_eval.beat.trim_beats
    assert mir_eval.beat.f_measure(trim(downbeats), trim(analysis.downbeat_times_s)) >= 0.9


def test_a_waltz_scores_higher_on_a_comb_of_three_than_of_four():
    n = 96
    evidence = np.where(np.arange(n) % 3 == 1, 2.0, -1.0)  # downbeats on beats 1, 4, 7, ...
    assert meter_score(evidence, 3) == pytest.approx(2.0)
    assert meter_score(evidence, 4) < 0.5


def test_without_a_clear_meter_the_model_keeps_four_beats_per_bar():
    rng = np.random.default_rng(0)
    n = 128
    chroma = np.abs(rng.standard_normal((n, 12)))
    beat_in_bar, beats_per_bar, confidence = estimate_bars(chroma, np.ones(n), np.ones(n))
    assert beats_per_bar == 4
    assert beat_in_bar.shape == (n,) and confidence.shape == (n,)
    assert np.all((confidence >= 0) & (confidence <= 1))


def test_the_bar_phase_follows_a_bar_of_another_length_in_the_middle():
    # 4/4 with one 2-beat bar after 16 bars: the phase must move by two beats there
    accents = [1.0, 0.0, 0.0, 0.0] * 16 + [1.0, 0.0] + [1.0, 0.0, 0.0, 0.0] * 16
    low = np.asarray(accents) * 3.0 + 0.1
    n = low.size
    beat_in_bar, beats_per_bar, _ = estimate_bars(np.ones((n, 12)), low, low)
    assert beats_per_bar == 4
    truth = np.flatnonzero(np.asarray(accents) == 1.0)
    found = np.flatnonzero(beat_in_bar == 0)
    assert len(set(truth) & set(found)) >= len(truth) - 2


def test_fill_beat_gaps_puts_a_grid_at_the_tempo_where_no_beat_was_tracked():
    from rl_editor.audio.beats import fill_beat_gaps, filled_stretches

    tracked = np.concatenate([np.arange(10.0, 20.0, 0.5), np.arange(31.0, 40.0, 0.5)])
    times, filled = fill_beat_gaps(tracked, 41.0)
    assert np.all(np.diff(times) > 0) and np.array_equal(times[~filled], tracked)
    assert np.diff(times).max() <= 0.5 + 1e-9  # the 10 s intro and the 11.5 s break are on the grid too
    assert times[0] == pytest.approx(0.5) and times[-1] == pytest.approx(39.5)
    assert filled_stretches(times, filled, 41.0) == [(0.0, 10.0), (19.5, 31.0)]
    short_gaps, none_filled = fill_beat_gaps(np.delete(np.arange(2.4, 10.0, 0.5), [5, 6]), 13.2)
    assert not none_filled.any() and short_gaps.size == 14  # a 1.5 s gap, a 2 s intro and 3 s tail stay


@pytest.mark.parametrize(
    "text, expected", [("160-200", (160.0, 200.0)), ("174", (165.3, 182.7)), (" 90-120 ", (90.0, 120.0))]
)
def test_a_tempo_hint_is_a_range_or_one_tempo(text, expected):
    from rl_editor.audio.beats import parse_bpm_range

    assert parse_bpm_range(text) == pytest.approx(expected)


@pytest.mark.parametrize("text", ["fast", "200-160", "0-100", "100-400", "1-2-3", ""])
def test_a_bad_tempo_hint_is_refused(text):
    from rl_editor.audio.beats import parse_bpm_range

    with pytest.raises(ValueError, match="not a tempo"):
        parse_bpm_range(text)


def test_a_tempo_hint_settles_the_metrical_level(make_beat_signal):
    """Clicks on every beat at 180 BPM, accents every other beat: the hint picks the level, and keys the cache."""
    from rl_editor.audio.analyze import analysis_params

    sr = 22050
    y = make_beat_signal(30.0, sr, bpm=180.0)
    clip = AudioClip(y, sr)
    hinted = analyze_clip(clip, song_id="fast", path="fast.wav", content_sha256="0" * 64, bpm_range=(160.0, 200.0))
    assert hinted.tempo_bpm == pytest.approx(180.0, rel=0.05)
    slow = analyze_clip(clip, song_id="fast", path="fast.wav", content_sha256="0" * 64, bpm_range=(60.0, 100.0))
    assert 60.0 <= slow.tempo_bpm <= 100.0 and hinted.n_beats > 1.7 * slow.n_beats
    assert analysis_params("librosa", (160.0, 200.0)) != analysis_params("librosa")
    assert "bpm_range" not in analysis_params("librosa")

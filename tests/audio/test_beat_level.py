"""The second opinion on the metrical level, on drum patterns the tests synthesize at 180 and 120 BPM."""

from __future__ import annotations

import warnings

import mir_eval
import numpy as np
import pytest

from rl_editor.audio.analyze import AnalysisWarning, analyze_clip
from rl_editor.audio.beats import onset_salience, track_beats
from rl_editor.audio.features import ANALYSIS_SR, HOP_LENGTH, frame_features
from rl_editor.audio.io import AudioClip

SR = ANALYSIS_SR
SECONDS = 24.0
FIRST_BEAT_S = 0.2
# One tuple (kick, snare, hi-hat) per eighth note, repeated.
# A 3-3-2 kick figure with a back beat: fast, it draws the plain tracker to two thirds of the tempo.
TRESILLO = [(1, 0, 1), (0, 0, 1), (0, 1, 1), (1, 0, 1), (0, 0, 1), (0, 1, 1), (1, 0, 1), (0, 0, 1)]
# Kick on 1 and 3, snare on 2 and 4, eighth-note hats: fast, the plain tracker takes half the tempo.
ROCK = [(1, 0, 1), (0, 0, 1), (0, 1, 1), (0, 0, 1), (1, 0, 1), (0, 0, 1), (0, 1, 1), (0, 0, 1)]


def drum_track(bpm: float, pattern: list[tuple[int, int, int]], *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Mono drums at ``bpm`` playing ``pattern`` (eighth notes); returns (samples, beat times s)."""
    rng = np.random.default_rng(seed)
    n = int(SECONDS * SR)
    y = np.zeros(n)
    hit = np.arange(int(0.1 * SR)) / SR
    kick = np.sin(2 * np.pi * 60.0 * hit) * np.exp(-hit / 0.05)
    snare = rng.standard_normal(hit.size) * np.exp(-hit / 0.04)
    hat = 0.3 * np.diff(rng.standard_normal(hit.size + 2), n=2) * np.exp(-hit / 0.01)  # high-passed noise
    eighths = np.arange(FIRST_BEAT_S, SECONDS - 0.2, 30.0 / bpm)
    for k, start_s in enumerate(eighths):
        gains = pattern[k % len(pattern)]
        start = int(start_s * SR)
        m = min(hit.size, n - start)
        y[start : start + m] += gains[0] * kick[:m] + gains[1] * snare[:m] + gains[2] * hat[:m]
    return (0.8 * y / np.abs(y).max()).astype(np.float32), eighths[::2]


def plain_tempo(y: np.ndarray) -> float:
    """The tempo of librosa's tracker alone."""
    frames = frame_features(y, sr=SR)
    return track_beats(frames.onset_envelope, sr=SR, hop_length=HOP_LENGTH)[1]


def analyse(y: np.ndarray, **kwargs):
    """``analyze_clip`` of ``y`` and the messages of its AnalysisWarnings."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", AnalysisWarning)
        analysis = analyze_clip(AudioClip(y, SR), song_id="drums", path="drums.wav", content_sha256="0" * 64, **kwargs)
    return analysis, [str(w.message) for w in caught if issubclass(w.category, AnalysisWarning)]


def beat_f(truth: np.ndarray, found: np.ndarray) -> float:
    trim = mir_eval.beat.trim_beats
    return mir_eval.beat.f_measure(trim(truth), trim(found))


def test_fast_music_tracked_at_two_thirds_of_its_tempo_is_moved_to_its_tempo():
    y, beats = drum_track(180.0, TRESILLO)
    assert plain_tempo(y) == pytest.approx(120.0, rel=0.05)  # what the tracker alone finds
    analysis, _ = analyse(y)
    assert analysis.tempo_bpm == pytest.approx(180.0, rel=0.05)
    assert beat_f(beats, analysis.beat_times_s) >= 0.9


def test_fast_music_tracked_at_half_its_tempo_is_warned_about_in_one_line():
    y, _ = drum_track(180.0, ROCK)
    assert plain_tempo(y) == pytest.approx(90.0, rel=0.05)
    analysis, messages = analyse(y)
    doubtful = [m for m in messages if "doubtful" in m]
    assert len(doubtful) == 1 and "\n" not in doubtful[0]
    assert doubtful[0].startswith("drums.wav: ") and "--bpm-range" in doubtful[0]
    assert f"{analysis.tempo_bpm:.0f} BPM or 18" in doubtful[0]  # names the doubled level, 180 +- bin width


@pytest.mark.parametrize("pattern", [TRESILLO, ROCK], ids=["tresillo", "rock"])
def test_moderate_tempo_keeps_its_level_without_a_warning(pattern):
    y, _ = drum_track(120.0, pattern)
    analysis, messages = analyse(y)
    assert analysis.tempo_bpm == pytest.approx(120.0, rel=0.05)
    assert np.median(np.diff(analysis.beat_times_s)) == pytest.approx(0.5, rel=0.05)
    assert not [m for m in messages if "doubtful" in m]


def test_a_tempo_hint_needs_no_second_opinion():
    y, beats = drum_track(180.0, ROCK)
    analysis, messages = analyse(y, bpm_range=(160.0, 200.0))
    assert analysis.tempo_bpm == pytest.approx(180.0, rel=0.05)
    assert beat_f(beats, analysis.beat_times_s) >= 0.9
    assert not [m for m in messages if "doubtful" in m]


def test_onset_salience_is_the_mean_peak_on_the_beats_over_the_median():
    envelope = np.zeros(100)
    envelope[[10, 30, 51]] = [2.0, 4.0, 3.0]  # the peak one frame after a beat counts too
    assert onset_salience(envelope, np.array([10, 30, 50])) == pytest.approx(3.0)
    assert onset_salience(envelope, np.array([], dtype=np.int64)) == 0.0

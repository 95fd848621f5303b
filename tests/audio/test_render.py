"""Rendering edits: rate, channels and length kept, no clicks at the splices."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rl_editor.audio import AnalysisError, AudioClip, load_audio, render_edit
from rl_editor.audio.render import (
    discontinuity_percentile,
    max_discontinuity,
    splice_discontinuities,
    splice_positions,
)
from rl_editor.edit import CUT, KEEP, REPEAT, Edit


def random_actions(n_beats: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    actions = rng.choice([KEEP, CUT, REPEAT], size=n_beats, p=[0.6, 0.3, 0.1])
    actions[0] = actions[-1] = KEEP
    return actions


def test_keeping_every_beat_reproduces_the_source(demo_analyses):
    a = demo_analyses[0]
    source = load_audio(a.path)
    out = render_edit(source, a, np.zeros(a.n_beats, dtype=int))
    assert out.n_frames == source.n_frames
    np.testing.assert_array_equal(out.samples, source.samples)


def test_render_keeps_rate_channels_and_the_edit_duration(demo_analyses):
    for k, a in enumerate(demo_analyses):
        actions = random_actions(a.n_beats, seed=k)
        source = load_audio(a.path)
        out = render_edit(a.path, a, actions)
        assert out.sample_rate == source.sample_rate and out.channels == source.channels
        expected = Edit(a.song_id, actions).duration_seconds(a.beat_durations_s)
        assert out.duration_seconds == pytest.approx(expected, abs=0.010)


def test_rendered_splices_stay_within_the_source_own_discontinuities(demo_analyses):
    for k, a in enumerate(demo_analyses):
        source = load_audio(a.path)
        actions = random_actions(a.n_beats, seed=100 + k)
        out = render_edit(source, a, actions)
        jumps = splice_discontinuities(out, splice_positions(a, actions, out.sample_rate))
        assert jumps.size > 10
        assert jumps.max() <= max_discontinuity(source.samples)
        assert np.percentile(jumps, 90) <= discontinuity_percentile(source.samples, 99.9)


def test_hard_cuts_click_and_crossfades_remove_the_click():
    """The measure itself: splicing a sine at mismatched phases is a click unless crossfaded."""
    from rl_editor.audio.song import SongAnalysis
    from rl_editor.audio.feature_layout import FEATURE_DIM

    sr = 16000
    t = np.arange(sr * 4) / sr
    source = AudioClip((0.5 * np.sin(2 * np.pi * 437.0 * t)).astype(np.float32), sr)
    beats = np.arange(0.0, 4.0, 0.5) + 0.013
    analysis = SongAnalysis(
        song_id="sine", path="<sine>", content_sha256="0" * 64, sample_rate=sr, source_sample_rate=sr,
        channels=1, duration_seconds=4.0, tempo_bpm=120.0, beat_times_s=beats,
        beat_in_bar=np.arange(beats.size) % 4, beats_per_bar=4, features=np.zeros((beats.size, FEATURE_DIM)),
    )
    actions = [KEEP, CUT, KEEP, REPEAT, CUT, KEEP, CUT, KEEP]
    positions = splice_positions(analysis, actions, sr)
    own = max_discontinuity(source.samples)
    hard = splice_discontinuities(render_edit(source, analysis, actions, crossfade_ms=0.0), positions)
    soft = splice_discontinuities(render_edit(source, analysis, actions, crossfade_ms=10.0), positions)
    assert hard.max() > 5 * own
    assert soft.max() <= 1.05 * own


def test_rendering_with_the_wrong_audio_or_actions_is_refused(demo_analyses):
    a = demo_analyses[0]
    with pytest.raises(AnalysisError, match="render with the analysed file"):
        render_edit(AudioClip(np.zeros((22050, 2), dtype=np.float32), 22050), a, np.zeros(a.n_beats))
    from rl_editor.edit import EditError

    with pytest.raises(EditError):
        render_edit(a.path, a, np.zeros(a.n_beats + 1))


@pytest.mark.real_music
def test_real_song_analysis_and_render(real_music_short_dir: Path):
    from rl_editor.audio import analyze_song

    for song in sorted(real_music_short_dir.glob("*.ogg"))[:3]:
        a = analyze_song(song)
        assert a.n_beats >= 32 and 50 <= a.tempo_bpm <= 220
        assert np.all(np.isfinite(a.features))
        assert 0.15 <= np.mean(a.beat_in_bar == 0) <= 0.35
        source = load_audio(song)
        actions = random_actions(a.n_beats, seed=7)
        out = render_edit(source, a, actions)
        assert out.sample_rate == source.sample_rate and out.channels == source.channels
        jumps = splice_discontinuities(out, splice_positions(a, actions, out.sample_rate))
        assert jumps.max() <= max_discontinuity(source.samples)

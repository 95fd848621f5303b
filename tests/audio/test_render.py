"""Rendering edits: rate, channels, length and beat slots kept; splices lined up, level-matched and click-free."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rl_editor.audio import AnalysisError, AudioClip, load_audio, render_edit
from rl_editor.audio.render import (
    discontinuity_percentile,
    max_discontinuity,
    plan_splices,
    splice_discontinuities,
    splice_positions,
)
from rl_editor.audio.splice import SpliceConfig
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


def test_a_beat_grid_renders_the_same_samples_as_its_analysis(demo_analyses):
    from rl_editor.audio.beatgrid import BeatGrid

    a = demo_analyses[1]
    source = load_audio(a.path)
    actions = random_actions(a.n_beats, seed=3)
    grid = BeatGrid(
        beat_times_s=a.beat_times_s.tolist(),
        duration_seconds=a.duration_seconds,
        source_sample_rate=source.sample_rate,
        channels=source.channels,
    )
    assert BeatGrid.of(a).source_sample_rate == a.source_sample_rate and BeatGrid.of(a).channels == a.channels
    expected = render_edit(source, a, actions).samples
    for beats in (BeatGrid.of(a), grid):
        np.testing.assert_array_equal(render_edit(source, beats, actions).samples, expected)
        np.testing.assert_array_equal(
            plan_splices(source, beats, actions).offsets, plan_splices(source, a, actions).offsets
        )
        np.testing.assert_array_equal(
            splice_positions(beats, actions, source.sample_rate), splice_positions(a, actions, source.sample_rate)
        )


def test_a_beat_grid_of_other_audio_is_refused(demo_analyses):
    from rl_editor.audio.beatgrid import BeatGrid

    a = demo_analyses[0]
    grid = BeatGrid(a.beat_times_s, a.duration_seconds + 5.0, a.source_sample_rate, a.channels, song_id="other")
    with pytest.raises(AnalysisError, match=r"beat grid \(other\).*render with the analysed file"):
        render_edit(a.path, grid, np.zeros(a.n_beats, dtype=int))


def _tone_song(samples: np.ndarray, sr: int, beat_s: float = 0.5, first_beat_s: float = 0.013):
    """A mono clip and a hand-made analysis with a beat every ``beat_s`` seconds."""
    from rl_editor.audio.feature_layout import FEATURE_DIM
    from rl_editor.audio.song import SongAnalysis

    duration = samples.shape[0] / sr
    beats = np.arange(first_beat_s, duration - 1e-6, beat_s)
    analysis = SongAnalysis(
        song_id="tone",
        path="<tone>",
        content_sha256="0" * 64,
        sample_rate=sr,
        source_sample_rate=sr,
        channels=1,
        duration_seconds=duration,
        tempo_bpm=60.0 / beat_s,
        beat_times_s=beats,
        beat_in_bar=np.arange(beats.size) % 4,
        beats_per_bar=4,
        features=np.zeros((beats.size, FEATURE_DIM)),
    )
    return AudioClip(samples.astype(np.float32), sr), analysis


def _sine(sr: int = 16000, seconds: float = 4.0, hz: float = 437.0, amplitude: float = 0.5) -> np.ndarray:
    return amplitude * np.sin(2 * np.pi * hz * np.arange(int(sr * seconds)) / sr)


SINE_ACTIONS = [KEEP, CUT, KEEP, REPEAT, CUT, KEEP, CUT, KEEP]


def test_hard_cuts_click_and_crossfades_remove_the_click():
    """The measure itself: splicing a sine at mismatched phases is a click unless crossfaded."""
    source, analysis = _tone_song(_sine(), 16000)
    positions = splice_positions(analysis, SINE_ACTIONS, 16000)
    own = max_discontinuity(source.samples)
    hard = splice_discontinuities(render_edit(source, analysis, SINE_ACTIONS, crossfade_ms=0.0), positions)
    soft = splice_discontinuities(render_edit(source, analysis, SINE_ACTIONS, crossfade_ms=10.0), positions)
    assert hard.max() > 5 * own
    assert soft.max() <= 1.05 * own


def test_sliding_the_incoming_run_lines_up_the_phase_of_a_hard_cut():
    """Without a crossfade to hide it, only the entry search removes the step between mismatched phases."""
    source, analysis = _tone_song(_sine(), 16000)
    positions = splice_positions(analysis, SINE_ACTIONS, 16000)
    own = max_discontinuity(source.samples)
    unaligned = render_edit(source, analysis, SINE_ACTIONS, splices=SpliceConfig(align=False, crossfade_ms=0.0))
    aligned = render_edit(source, analysis, SINE_ACTIONS, splices=SpliceConfig(crossfade_ms=0.0))
    unaligned_steps = splice_discontinuities(unaligned, positions)
    aligned_steps = splice_discontinuities(aligned, positions)
    assert unaligned_steps.max() > 5 * own
    assert aligned_steps.max() <= 1.05 * own
    offsets = plan_splices(source, analysis, SINE_ACTIONS, splices=SpliceConfig(crossfade_ms=0.0)).offsets
    assert np.all(np.abs(offsets) <= 0.025 * 16000) and np.any(offsets != 0)


def test_a_coherent_splice_keeps_the_level_through_its_crossfade():
    """Once lined up, the two sides are the same sine: equal-power gains would swell it by 3 dB, ours do not."""
    source, analysis = _tone_song(_sine(), 16000)
    positions = splice_positions(analysis, SINE_ACTIONS, 16000)
    points = plan_splices(source, analysis, SINE_ACTIONS)
    assert np.all(points.crossfades == int(0.080 * 16000)) and np.all(points.correlations > 0.99)

    def peak_near_splices(clip: AudioClip) -> float:
        return max(np.abs(clip.samples[p - 700 : p + 700]).max() for p in positions)

    ours = peak_near_splices(render_edit(source, analysis, SINE_ACTIONS))
    equal_power = peak_near_splices(
        render_edit(source, analysis, SINE_ACTIONS, splices=SpliceConfig(crossfade_ms=80.0, adapt_fade_shape=False))
    )
    assert ours == pytest.approx(0.5, abs=0.01)
    assert equal_power > 0.65


def _frame_levels_db(samples: np.ndarray, frame: int) -> np.ndarray:
    frames = samples[: samples.shape[0] // frame * frame, 0].reshape(-1, frame)
    return 20 * np.log10(np.sqrt((frames**2).mean(axis=1)) + 1e-9)


def test_a_loudness_jump_at_a_splice_is_eased():
    """Cutting from a quiet passage into one 6 dB louder: the level climbs over the ramp instead of at once."""
    sr = 16000
    quiet_then_loud = _sine(hz=400.0, amplitude=0.6)  # whole periods in each 10 ms frame
    quiet_then_loud[: 2 * sr] *= 0.5
    source, analysis = _tone_song(quiet_then_loud, sr, first_beat_s=0.0)
    actions = [KEEP, KEEP, CUT, CUT, CUT, KEEP, KEEP, KEEP]  # 1.0 s (quiet) -> 2.5 s (loud)
    (splice,) = splice_positions(analysis, actions, sr)
    frame = sr // 100  # 10 ms

    def largest_step_db(config: SpliceConfig) -> float:
        levels = _frame_levels_db(render_edit(source, analysis, actions, splices=config).samples, frame)
        around = levels[splice // frame - 20 : splice // frame + 30]
        return float(np.abs(np.diff(around)).max())

    plain_step = largest_step_db(SpliceConfig(crossfade_ms=10.0, match_loudness=False))
    matched_step = largest_step_db(SpliceConfig(crossfade_ms=10.0))
    assert plain_step > 2.5
    assert matched_step < 0.5
    assert plan_splices(source, analysis, actions).gains[0] == pytest.approx(0.5, rel=0.02)


def test_played_beats_keep_their_output_slots_and_slide_at_most_the_search_window(demo_analyses):
    """Beat maps place played beat k at the sum of the durations before it; a run's audio is read at most
    ``max_offset_ms`` off its beats, and away from the splices it is the source copied sample for sample."""
    a = demo_analyses[1]
    source = load_audio(a.path)
    sr = source.sample_rate
    actions = random_actions(a.n_beats, seed=3)
    out = render_edit(source, a, actions)
    points = plan_splices(source, a, actions)
    assert np.abs(points.offsets).max() <= round(0.025 * sr) and np.any(points.offsets != 0)
    seq = Edit(a.song_id, actions).beat_sequence()
    starts_out = np.round(np.concatenate([[0.0], np.cumsum(a.beat_durations_s[seq])]) * sr).astype(int)
    assert out.n_frames == starts_out[-1]
    run_index = np.cumsum(np.concatenate([[False], seq[1:] != seq[:-1] + 1]))
    slides = np.concatenate([[0], points.offsets])[run_index]
    for k in range(seq.size):
        middle = (starts_out[k] + starts_out[k + 1]) // 2
        src = int(round(a.segment_bounds_s[seq[k]] * sr)) + slides[k] + (middle - starts_out[k])
        np.testing.assert_array_equal(out.samples[middle : middle + 64], source.samples[src : src + 64])


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


def test_splice_times_give_source_out_source_in_and_edit_time():
    from rl_editor.audio.beatgrid import BeatGrid, splice_times

    grid = BeatGrid([0.2, 1.0, 2.0, 3.0, 4.0, 5.0], duration_seconds=6.0, source_sample_rate=8000, channels=1)
    # beat 0 spans 0-1 s (it carries the pickup), beat 5 spans 5-6 s; cut beats 1-2, repeat beat 4
    times = splice_times(grid, np.array([0, 1, 1, 0, 2, 0]))
    assert times == [
        {"source_out_s": 1.0, "source_in_s": 3.0, "edit_s": 1.0},
        {"source_out_s": 5.0, "source_in_s": 4.0, "edit_s": 3.0},
    ]

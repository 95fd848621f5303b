"""Song analysis: beats, bars, features, errors and batches."""

from __future__ import annotations

import json
from pathlib import Path

import mir_eval
import numpy as np
import pytest
import soundfile as sf

from rl_editor.audio import AnalysisError, analyze_many, analyze_song, extract_features, load_audio
from rl_editor.audio.feature_layout import FEATURE_DIM, feature_index


def _truth(wav: Path) -> dict:
    return json.loads(wav.with_suffix(".json").read_text())


def test_beat_and_downbeat_f_measure_on_demo_songs(demo_songs_dir, demo_analyses):
    beat_f, down_f = [], []
    for analysis in demo_analyses:
        truth = _truth(Path(analysis.path))
        ref_beats = mir_eval.beat.trim_beats(np.asarray(truth["beats"]))
        ref_down = mir_eval.beat.trim_beats(np.asarray(truth["downbeats"]))
        beat_f.append(mir_eval.beat.f_measure(ref_beats, mir_eval.beat.trim_beats(analysis.beat_times_s)))
        down_f.append(mir_eval.beat.f_measure(ref_down, mir_eval.beat.trim_beats(analysis.downbeat_times_s)))
        assert analysis.tempo_bpm == pytest.approx(truth["tempo_bpm"], rel=0.05)
    assert np.mean(beat_f) >= 0.9, beat_f
    assert np.mean(down_f) >= 0.7, down_f


def test_features_have_the_layout_shape_and_are_finite(demo_analyses):
    for a in demo_analyses:
        assert a.features.shape == (a.n_beats, FEATURE_DIM)
        assert a.features.dtype == np.float32
        assert np.all(np.isfinite(a.features))
        assert np.all(np.diff(a.beat_times_s) > 0)
        assert a.beats_per_bar == 4 and a.sample_rate == 22050


def test_one_hot_timing_and_bounded_groups_match_the_beat_grid(demo_analyses):
    for a in demo_analyses:
        onehot = a.group("beat_in_bar_onehot")
        np.testing.assert_array_equal(onehot.sum(axis=1), 1.0)
        np.testing.assert_array_equal(onehot.argmax(axis=1), a.beat_in_bar % 4)
        timing = a.group("timing")
        np.testing.assert_allclose(timing[:, 0], a.beat_durations_s, atol=1e-5)
        np.testing.assert_allclose(timing[:, 2], a.beat_times_s / a.duration_seconds, atol=1e-5)
        assert np.median(timing[:, 1]) * 200 == pytest.approx(a.tempo_bpm, rel=0.1)
        assert np.all(a.group("chroma_mean").sum(axis=1) <= 1.0 + 1e-4)
        for group in ("structure", "onset"):
            values = a.group(group)
            assert values.min() >= 0.0 and values.max() <= 1.0 + 1e-6, group
        share = a.features[:, feature_index("percussive_share")]
        assert share.min() >= 0.0 and share.max() <= 1.0


def test_loudness_follows_the_music(demo_analyses):
    """Choruses are louder than verses in the demo songs, and the features see it."""
    compared = 0
    for a in demo_analyses:
        truth = _truth(Path(a.path))
        loud = a.features[:, feature_index("rms_mean_db")]
        by_name: dict[str, list[float]] = {}
        for section in truth["sections"]:
            inside = (a.beat_times_s >= section["start_s"]) & (a.beat_times_s < section["end_s"])
            by_name.setdefault(section["name"], []).extend(loud[inside])
        if by_name.get("chorus") and by_name.get("verse"):
            assert np.mean(by_name["chorus"]) > np.mean(by_name["verse"])
            compared += 1
    assert compared >= 1


def test_extract_features_accepts_a_path_or_decoded_audio(write_beat_file):
    path = write_beat_file("clicks.wav", seconds=12.0)
    from_path = extract_features(path)
    from_clip = extract_features(load_audio(path))
    assert from_path.shape == from_clip.shape == (from_path.shape[0], FEATURE_DIM)
    assert from_path.shape[0] >= 20
    np.testing.assert_allclose(from_path, from_clip, atol=1e-4)


def test_analysis_works_on_any_rate_and_channel_count(write_beat_file):
    a = analyze_song(write_beat_file("wide.flac", seconds=12.0, sr=48000, channels=4), use_cache=False)
    assert a.source_sample_rate == 48000 and a.channels == 4
    assert a.tempo_bpm == pytest.approx(120.0, rel=0.05)
    assert a.song_id == "wide"


@pytest.fixture
def bad_inputs(tmp_path: Path, write_beat_file) -> dict[str, tuple[Path, str]]:
    """Each bad input and the words its error must contain."""
    junk = tmp_path / "corrupt.wav"
    junk.write_bytes(b"RIFF" + np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes())
    whole = write_beat_file("whole.flac", seconds=10.0)
    truncated = tmp_path / "truncated.flac"
    truncated.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    silence = tmp_path / "silence.wav"
    sf.write(str(silence), np.zeros(22050 * 10, dtype=np.float32), 22050)
    short = write_beat_file("short.wav", seconds=3.0)
    text = tmp_path / "lyrics.txt"
    text.write_text("la la la")
    return {
        "corrupt": (junk, "cannot decode"),
        "truncated": (truncated, "cannot decode"),
        "silence": (silence, "silent"),
        "short": (short, "too short to hold 8 beats"),
        "missing": (tmp_path / "missing.wav", "no such file"),
        "unsupported": (text, "unsupported format"),
    }


def test_each_bad_input_gives_a_one_line_error_naming_the_file(bad_inputs):
    for kind, (path, words) in bad_inputs.items():
        with pytest.raises(AnalysisError) as info:
            analyze_song(path, use_cache=False)
        message = str(info.value)
        assert message.startswith(str(path)), kind
        assert words in message, (kind, message)
        assert "\n" not in message


@pytest.mark.slow
def test_analyze_many_continues_past_bad_files_and_lists_them(bad_inputs, write_beat_file, tmp_path):
    good = write_beat_file("good.ogg", seconds=12.0)
    paths = [good] + [p for p, _ in bad_inputs.values()]
    batch = analyze_many(paths, workers=2, progress=False, cache_dir=tmp_path / "cache")
    assert [a.song_id for a in batch.analyses] == ["good"]
    skipped = dict(batch.skipped)
    assert set(skipped) == {str(p) for p, _ in bad_inputs.values()}
    for path, words in bad_inputs.values():
        assert words in skipped[str(path)]
        assert "\n" not in skipped[str(path)]


def test_analyze_many_searches_folders_and_reuses_the_cache(write_beat_file, make_beat_signal, tmp_path):
    folder = write_beat_file("a.wav", seconds=12.0).parent
    (folder / "sub").mkdir()
    sf.write(str(folder / "sub" / "b.flac"), make_beat_signal(12.0, 22050, bpm=100.0, seed=3), 22050)
    (folder / "readme.md").write_text("not audio")
    first = analyze_many([folder], workers=1, progress=False, cache_dir=tmp_path / "c")
    assert sorted(a.song_id for a in first.analyses) == ["a", "b"] and first.skipped == []
    again = analyze_many([folder], workers=1, progress=False, cache_dir=tmp_path / "c")
    for x, y in zip(first.analyses, again.analyses):
        np.testing.assert_array_equal(x.features, y.features)


@pytest.fixture(scope="module")
def full_length_demo_analyses(tmp_path_factory):
    """Two demo songs of ordinary length (sections of 4-8 bars, like real songs)."""
    from rl_editor.audio.demo_songs import synthesize_corpus

    folder = tmp_path_factory.mktemp("full-length-demo")
    paths = synthesize_corpus(folder, n_songs=2, seed=7, duration_range_s=(100.0, 130.0))
    return [analyze_song(p, use_cache=False) for p in paths]


def test_novelty_peaks_find_section_boundaries(full_length_demo_analyses):
    """``novelty_peak_distance`` is 0 on novelty peaks; many fall on the songs' true section changes."""
    found, n_bounds, near, n_peaks = 0, 0, 0, 0
    for a in full_length_demo_analyses:
        truth = _truth(Path(a.path))
        bounds = np.array([np.argmin(np.abs(a.beat_times_s - s["start_s"])) for s in truth["sections"][1:]])
        peaks = np.flatnonzero(a.features[:, feature_index("novelty_peak_distance")] == 0)
        found += sum(np.any(np.abs(peaks - b) <= 2) for b in bounds)
        n_bounds += bounds.size
        near += sum(np.any(np.abs(bounds - p) <= 2) for p in peaks)
        n_peaks += peaks.size
    assert found / n_bounds >= 0.35, (found, n_bounds)
    assert near / max(n_peaks, 1) >= 0.3, (near, n_peaks)


def test_beats_sit_at_the_start_of_the_hits(demo_analyses):
    """Splices happen at beat times, so beats must not lag the drum attacks (which would cut them)."""
    for a in demo_analyses:
        truth = np.asarray(_truth(Path(a.path))["beats"])
        nearest = truth[np.abs(truth[None, :] - a.beat_times_s[:, None]).argmin(axis=1)]
        offset_ms = 1000 * (a.beat_times_s - nearest)
        assert abs(np.median(offset_ms)) < 6.0, np.median(offset_ms)
        assert np.percentile(np.abs(offset_ms), 80) < 15.0


def test_warm_up_analyses_its_click_track():
    from rl_editor.audio.analyze import warm_up

    assert warm_up() > 0.0


def test_a_song_longer_than_the_limit_is_refused_before_decoding(write_beat_file, monkeypatch, tmp_path):
    song = write_beat_file("long.flac", seconds=12.0)
    monkeypatch.setenv("RL_EDITOR_MAX_SONG_MINUTES", "0.1")
    with pytest.raises(AnalysisError) as caught:
        analyze_song(song, use_cache=False)
    assert str(caught.value).startswith(f"{song}: 0.2 minutes is longer than the 0.1-minute limit of analysis")
    assert "RL_EDITOR_MAX_SONG_MINUTES" in str(caught.value)
    monkeypatch.setenv("RL_EDITOR_MAX_SONG_MINUTES", "0")  # no limit
    assert analyze_song(song, use_cache=False).duration_seconds == pytest.approx(12.0)
    monkeypatch.setenv("RL_EDITOR_MAX_SONG_MINUTES", "long")
    with pytest.raises(AnalysisError, match="RL_EDITOR_MAX_SONG_MINUTES='long': not a number of minutes"):
        analyze_song(song, use_cache=False)


@pytest.fixture
def song_with_free_intro(make_beat_signal, tmp_path) -> Path:
    """20 s of a sustained chord without any attack, then 20 s of beats at 120 BPM."""
    sr = 22050
    t = np.arange(20 * sr) / sr
    pad = (0.05 * np.sin(2 * np.pi * 220 * t) * np.minimum(1.0, t / 2)).astype(np.float32)[:, None]
    path = tmp_path / "intro.wav"
    sf.write(str(path), np.concatenate([pad, make_beat_signal(20.0, sr)]), sr)
    return path


def test_a_stretch_without_beats_is_marked_and_gets_a_grid_given_the_tempo(song_with_free_intro):
    from rl_editor.audio.analyze import AnalysisWarning

    confidence_column = feature_index("beat_confidence")
    with pytest.warns(
        AnalysisWarning,
        match=r"intro\.wav: no beat found in 0:00-0:20; it is one long beat there "
        r"\(beat confidence 0\); give the tempo \(--bpm-range\)",
    ):
        marked = analyze_song(song_with_free_intro, use_cache=False)
    assert marked.beat_durations_s[0] > 15.0 and marked.features[0, confidence_column] == 0.0
    assert marked.features[1:, confidence_column].mean() > 0.3

    with pytest.warns(AnalysisWarning, match=r"intro\.wav: no beat found in 0:00-0:20; filled with \d+ beats at"):
        analysis = analyze_song(song_with_free_intro, use_cache=False, bpm_range=(100.0, 140.0))
    durations = analysis.beat_durations_s
    assert durations.max() < 2 * np.median(durations)  # no 20-second "beat"
    intro = analysis.beat_times_s < 19.5
    assert intro.sum() >= 30
    confidence = analysis.features[:, confidence_column]
    assert np.all(confidence[intro] == 0) and confidence[~intro].mean() > 0.3


def test_analyze_many_reports_the_filled_stretch_in_one_line(song_with_free_intro):
    batch = analyze_many([song_with_free_intro], workers=1, progress=False, use_cache=False)
    assert len(batch.analyses) == 1
    [note] = batch.warnings
    assert note.startswith(f"{song_with_free_intro}: no beat found in 0:00-0:20") and "\n" not in note

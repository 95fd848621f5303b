"""Demo songs: deterministic, varied, loud choruses, and ground truth that matches the audio."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from rl_editor.audio.demo_songs import (
    DemoSong,
    DemoSongError,
    corpus_plan,
    parse_key,
    synthesize_corpus,
    synthesize_song,
    synthesize_spec,
)

DURATION_RANGE_S = (20.0, 30.0)


@pytest.fixture(scope="module")
def corpus_songs() -> list[DemoSong]:
    """Eight short songs of one corpus, in memory."""
    return [synthesize_spec(spec) for spec in corpus_plan(8, seed=11, duration_range_s=DURATION_RANGE_S)]


@pytest.fixture(scope="module")
def written_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("demo")
    synthesize_corpus(folder, n_songs=3, seed=5, duration_range_s=DURATION_RANGE_S)
    return folder


def _section_rms(song: DemoSong, name: str) -> float:
    sr = song.sample_rate
    chunks = [song.samples[int(s.start_s * sr) : int(s.end_s * sr)] for s in song.truth.sections if s.name == name]
    return float(np.sqrt(np.mean(np.concatenate(chunks) ** 2)))


def test_same_arguments_give_byte_identical_files(written_corpus: Path, tmp_path: Path) -> None:
    again = synthesize_corpus(tmp_path, n_songs=3, seed=5, duration_range_s=DURATION_RANGE_S)
    assert [p.name for p in again] == ["demo_0.wav", "demo_1.wav", "demo_2.wav"]
    for path in sorted(written_corpus.iterdir()):
        assert (tmp_path / path.name).read_bytes() == path.read_bytes(), path.name


def test_rerun_leaves_identical_files_untouched(tmp_path: Path) -> None:
    synthesize_corpus(tmp_path, n_songs=1, seed=2, duration_range_s=(12.0, 12.0))
    before = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    for path in tmp_path.iterdir():  # make any rewrite visible in the modification time
        os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    synthesize_corpus(tmp_path, n_songs=1, seed=2, duration_range_s=(12.0, 12.0))
    assert set(before) == {"demo_0.wav", "demo_0.json"}
    assert all(p.stat().st_mtime_ns == 1_000_000_000 for p in tmp_path.iterdir())


def test_different_seeds_give_different_songs() -> None:
    a = synthesize_song(1, duration_s=15.0)
    b = synthesize_song(2, duration_s=15.0)
    assert a.truth.tempo_bpm != b.truth.tempo_bpm or a.truth.key != b.truth.key
    n = min(len(a.samples), len(b.samples))
    assert not np.allclose(a.samples[:n], b.samples[:n])
    same = synthesize_song(1, duration_s=15.0)
    assert np.array_equal(a.samples, same.samples)


def test_wav_and_json_describe_the_same_song(written_corpus: Path) -> None:
    for wav in sorted(written_corpus.glob("*.wav")):
        info = sf.info(wav)
        truth = json.loads(wav.with_suffix(".json").read_text())
        assert (info.channels, info.samplerate, info.subtype) == (2, 22050, "PCM_16")
        assert DURATION_RANGE_S[0] - 0.01 <= info.duration <= DURATION_RANGE_S[1] + 0.01
        assert truth["duration_seconds"] == pytest.approx(info.duration, abs=1e-6)
        assert set(truth) >= {"beats", "downbeats", "beats_per_bar", "tempo_bpm", "key", "sections", "seed"}
        assert truth["beats_per_bar"] == 4
        parse_key(truth["key"])


def test_durations_stay_within_the_requested_range(corpus_songs: list[DemoSong]) -> None:
    for song in corpus_songs:
        assert DURATION_RANGE_S[0] - 0.01 <= song.duration_seconds <= DURATION_RANGE_S[1] + 0.01


def test_beats_are_evenly_spaced_at_the_tempo_with_a_downbeat_every_fourth(corpus_songs: list[DemoSong]) -> None:
    for song in corpus_songs:
        truth = song.truth
        beats = np.asarray(truth.beats)
        assert np.all(np.diff(beats) > 0)
        np.testing.assert_allclose(np.diff(beats), 60.0 / truth.tempo_bpm, atol=1e-9)
        np.testing.assert_array_equal(truth.downbeats, beats[::4])
        assert 0.0 < beats[0] and beats[-1] < song.duration_seconds


def test_sections_are_contiguous_cover_the_song_and_start_on_bar_lines(corpus_songs: list[DemoSong]) -> None:
    for song in corpus_songs:
        sections = song.truth.sections
        assert sections[0].name == "intro" and sections[-1].name == "outro"
        assert {"verse", "chorus"} <= {s.name for s in sections}
        assert sections[0].start_s == 0.0
        assert sections[-1].end_s == pytest.approx(song.duration_seconds)
        for prev, nxt in zip(sections, sections[1:]):
            assert prev.end_s == nxt.start_s
            assert np.min(np.abs(np.asarray(song.truth.downbeats) - nxt.start_s)) < 1e-9
        assert all(0.0 <= s.energy <= 1.0 and s.end_s > s.start_s for s in sections)


def _onset_ratios(song: DemoSong, times_s: np.ndarray) -> np.ndarray:
    """High-passed energy in the 10 ms after each time over the 10 ms before it."""
    mono = np.diff(song.samples.mean(axis=1), prepend=0.0)  # first difference: transients stand out
    sr, window = song.sample_rate, int(0.01 * song.sample_rate)
    starts = np.round(times_s * sr).astype(int)
    before = np.array([np.sum(mono[s - window : s] ** 2) for s in starts])
    after = np.array([np.sum(mono[s : s + window] ** 2) for s in starts])
    return after / np.maximum(before, 1e-12)


def test_drum_hits_land_on_the_ground_truth_beats(corpus_songs: list[DemoSong]) -> None:
    for song in corpus_songs:
        beats = np.asarray(song.truth.beats)
        # every beat carries a kick or snare onset: energy jumps right at the beat time...
        assert np.min(_onset_ratios(song, beats)) > 4.0
        # ...and 15 ms later the jump is already over, so the truth is not merely close
        assert np.median(_onset_ratios(song, beats + 0.015)) < 1.0


def test_a_corpus_spreads_tempos_keys_and_modes(corpus_songs: list[DemoSong]) -> None:
    tempos = [song.truth.tempo_bpm for song in corpus_songs]
    keys = [song.truth.key for song in corpus_songs]
    assert min(tempos) >= 80.0 and max(tempos) <= 160.0
    assert max(tempos) - min(tempos) >= 50.0
    assert len(set(keys)) >= 6
    assert {k.split()[1] for k in keys} == {"major", "minor"}


def test_songs_are_peak_normalised_without_clipping(corpus_songs: list[DemoSong], written_corpus: Path) -> None:
    for song in corpus_songs:
        assert song.samples.dtype == np.float32 and song.samples.shape[1] == 2
        assert 0.8 < float(np.max(np.abs(song.samples))) < 0.95
    for wav in written_corpus.glob("*.wav"):
        pcm, _ = sf.read(wav, dtype="int16")
        assert np.max(np.abs(pcm.astype(np.int32))) < 32767


def test_choruses_are_louder_than_verses(corpus_songs: list[DemoSong]) -> None:
    for song in corpus_songs:
        assert _section_rms(song, "chorus") > 1.25 * _section_rms(song, "verse")
        energy = {s.name: s.energy for s in song.truth.sections}
        assert energy["chorus"] > energy["verse"]


def test_bad_requests_raise_demo_song_errors_naming_the_field() -> None:
    with pytest.raises(DemoSongError, match="duration_s"):
        synthesize_song(0, duration_s=3.0)
    with pytest.raises(DemoSongError, match="tempo_bpm"):
        synthesize_song(0, duration_s=20.0, tempo_bpm=200.0)
    with pytest.raises(DemoSongError, match="key"):
        synthesize_song(0, duration_s=20.0, key="H dorian")
    with pytest.raises(DemoSongError, match="duration range"):
        corpus_plan(2, 0, (50.0, 40.0))


def test_cli_writes_songs_and_ground_truth(tmp_path: Path) -> None:
    from rl_editor.cli import app

    out = tmp_path / "songs"
    result = CliRunner().invoke(
        app, ["demo-songs", str(out), "--n", "2", "--seed", "3", "--min-seconds", "12", "--max-seconds", "15"]
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["demo_0.json", "demo_0.wav", "demo_1.json", "demo_1.wav"]
    assert "demo_1.wav" in result.output and "BPM" in result.output
    assert json.loads((out / "demo_0.json").read_text())["beats_per_bar"] == 4


def test_cli_rejects_an_empty_corpus_with_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", "from rl_editor.cli import main; main()", "demo-songs", str(tmp_path), "--n", "0"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == "error: n_songs=0: ask for at least one song"


def test_beat_tracking_on_a_demo_song_reaches_f_measure_0_9(request: pytest.FixtureRequest) -> None:
    import mir_eval

    from rl_editor.audio import analyze_song

    demo_songs_dir: Path = request.getfixturevalue("demo_songs_dir")
    wav = sorted(demo_songs_dir.glob("*.wav"))[0]
    reference = np.asarray(json.loads(wav.with_suffix(".json").read_text())["beats"])
    analysis = analyze_song(wav)
    f_measure = mir_eval.beat.f_measure(
        mir_eval.beat.trim_beats(reference), mir_eval.beat.trim_beats(np.asarray(analysis.beat_times_s))
    )
    assert f_measure >= 0.9

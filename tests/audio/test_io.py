"""Decoding and writing audio files: formats, channel counts, rates, bad files."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from rl_editor.audio import AnalysisError, AudioClip, load_audio, save_audio


@pytest.mark.parametrize("suffix", [".wav", ".flac", ".ogg", ".mp3"])
def test_load_audio_decodes_each_format_to_float32_frames_by_channels(write_beat_file, suffix):
    if suffix == ".mp3" and "MP3" not in sf.available_formats():
        pytest.skip("this libsndfile cannot write mp3 and no encoder is needed elsewhere")
    path = write_beat_file(f"song{suffix}", seconds=5.0, sr=22050, channels=2)
    clip = load_audio(path)
    assert clip.samples.dtype == np.float32
    assert clip.channels == 2 and clip.sample_rate == 22050
    # lossy codecs pad a little at the ends
    assert abs(clip.duration_seconds - 5.0) < 0.1
    assert 0.1 < np.abs(clip.samples).max() <= 1.0


def test_load_audio_mixes_many_channels_and_resamples_odd_rates(write_beat_file):
    path = write_beat_file("six.wav", seconds=3.0, sr=11025, channels=6)
    raw = load_audio(path)
    assert raw.channels == 6 and raw.sample_rate == 11025
    clip = load_audio(path, sample_rate=22050, mono=True)
    assert clip.channels == 1 and clip.sample_rate == 22050
    assert abs(clip.n_frames - 2 * raw.n_frames) <= 2
    rms = lambda x: float(np.sqrt(np.mean(np.square(x))))  # noqa: E731
    assert rms(clip.samples) == pytest.approx(rms(raw.samples.mean(axis=1)), rel=0.05)


@pytest.mark.parametrize("suffix", [".m4a", ".aac", ".opus", ".mp3"])
def test_load_audio_decodes_compressed_formats_without_system_ffmpeg(write_encoded_file, suffix):
    path = write_encoded_file(f"song{suffix}", seconds=4.0, sr=44100, channels=2)
    clip = load_audio(path)
    assert clip.samples.dtype == np.float32 and clip.channels == 2
    assert clip.sample_rate == (48000 if suffix == ".opus" else 44100)
    assert abs(clip.duration_seconds - 4.0) < 0.1  # encoders pad a little at the ends
    assert 0.1 < np.abs(clip.samples).max() <= 1.5
    resampled = load_audio(path, sample_rate=22050, mono=True)
    assert resampled.channels == 1 and abs(resampled.duration_seconds - clip.duration_seconds) < 0.01


def test_a_damaged_m4a_is_reported_as_damaged(write_encoded_file):
    path = write_encoded_file("song.m4a", seconds=3.0)
    path.write_bytes(b"\x00" * 64 + path.read_bytes()[64:])
    with pytest.raises(AnalysisError, match=r"song\.m4a: cannot decode .*damaged"):
        load_audio(path)


def test_a_missing_decoder_is_not_reported_as_a_damaged_file(write_encoded_file, monkeypatch):
    path = write_encoded_file("song.m4a", seconds=3.0)
    monkeypatch.setitem(sys.modules, "av", None)  # as on a system without PyAV
    with pytest.raises(AnalysisError, match=r"song\.m4a: no decoder for \.m4a audio") as info:
        load_audio(path)
    assert "damaged" not in str(info.value) and "corrupt" not in str(info.value)


@pytest.mark.parametrize("sr", [8000, 44100, 48000, 96000])
def test_load_audio_keeps_the_file_rate_unless_asked(write_beat_file, sr):
    path = write_beat_file(f"r{sr}.flac", seconds=2.0, sr=sr)
    assert load_audio(path).sample_rate == sr
    assert load_audio(path, sample_rate=22050).sample_rate == 22050


def test_missing_file_and_unsupported_suffix_name_the_file(tmp_path):
    with pytest.raises(AnalysisError, match=r"nope\.wav: no such file"):
        load_audio(tmp_path / "nope.wav")
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(AnalysisError, match=r"notes\.txt: unsupported format '\.txt'"):
        load_audio(text)


def test_corrupt_and_truncated_files_raise_analysis_error(write_beat_file, tmp_path):
    junk = tmp_path / "junk.ogg"
    junk.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    with pytest.raises(AnalysisError, match=r"junk\.ogg: cannot decode"):
        load_audio(junk)
    for suffix in (".wav", ".flac", ".ogg"):
        whole = write_beat_file(f"whole{suffix}", seconds=6.0)
        cut = tmp_path / f"cut{suffix}"
        cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
        with pytest.raises(AnalysisError, match=rf"cut\{suffix}: .*(truncated|corrupt)"):
            load_audio(cut)


@pytest.mark.parametrize("suffix", [".wav", ".flac", ".ogg"])
def test_save_audio_round_trips_and_leaves_no_temporary_files(tmp_path, suffix):
    rng = np.random.default_rng(1)
    clip = AudioClip((0.2 * rng.standard_normal((8000, 2))).astype(np.float32), 16000)
    out = save_audio(tmp_path / f"edit{suffix}", clip)
    back = load_audio(out)
    assert back.sample_rate == 16000 and back.channels == 2
    assert abs(back.n_frames - 8000) < 1200
    if suffix != ".ogg":
        np.testing.assert_allclose(back.samples, clip.samples, atol=1e-3)
    assert [p.name for p in tmp_path.iterdir()] == [out.name]


def test_save_audio_rejects_unknown_suffix_and_needs_a_rate_for_arrays(tmp_path):
    with pytest.raises(AnalysisError, match=r"edit\.xyz: cannot write"):
        save_audio(tmp_path / "edit.xyz", np.zeros(100, dtype=np.float32), 8000)
    with pytest.raises(ValueError, match="sample_rate"):
        save_audio(tmp_path / "edit.wav", np.zeros(100, dtype=np.float32))


def test_importing_the_package_does_not_import_librosa():
    code = "import sys, rl_editor.audio as a; a.AudioClip; assert 'librosa' not in sys.modules, 'librosa'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_float_audio_far_above_full_scale_is_refused_in_one_line(make_beat_signal, tmp_path):
    path = tmp_path / "huge.wav"
    sf.write(str(path), make_beat_signal(6.0, 22050) * np.float32(1e30), 22050, subtype="FLOAT")
    with pytest.raises(AnalysisError) as caught:
        load_audio(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: samples reach 7e+29 times full scale") and "\n" not in message


def test_float_audio_somewhat_above_full_scale_is_scaled_down_to_it(make_beat_signal, tmp_path):
    signal = make_beat_signal(6.0, 22050)
    path = tmp_path / "hot.wav"
    sf.write(str(path), signal * np.float32(8.0), 22050, subtype="FLOAT")
    clip = load_audio(path)
    assert np.abs(clip.samples).max() == pytest.approx(1.0)
    np.testing.assert_allclose(clip.samples, signal / np.abs(signal).max(), atol=1e-6)


def _frame_ends(data: bytes) -> list[int]:
    """Byte offsets where each MPEG frame of an mp3 (after its ID3v2 tag) ends."""
    from rl_editor.audio.io import mpeg_frame_length

    tag = 10 + int.from_bytes(bytes(b & 0x7F for b in data[6:10]), "big") if data[:3] == b"ID3" else 0
    pos, ends = data.find(b"\xff", tag), []
    while (length := mpeg_frame_length(data[pos : pos + 4])) is not None:
        pos += length
        ends.append(pos)
    return ends


def test_a_truncated_mp3_is_refused_and_a_whole_one_is_not(write_encoded_file, tmp_path):
    whole = write_encoded_file("whole.mp3", seconds=8.0)
    data = whole.read_bytes()
    assert load_audio(whole).duration_seconds == pytest.approx(8.0, abs=0.1)
    ends = _frame_ends(data)
    assert ends[-1] == len(data)
    cuts = {"mid-frame": data[: len(data) // 2 + 7], "on a frame boundary": data[: ends[len(ends) // 2]]}
    for how, cut_bytes in cuts.items():
        cut = tmp_path / "cut.mp3"
        cut.write_bytes(cut_bytes)
        with pytest.raises(AnalysisError, match=r"cut\.mp3: truncated mp3") as caught:
            load_audio(cut)
        assert "\n" not in str(caught.value), how

"""Fixtures of the audio tests: small synthetic signals written in several formats."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf


def beat_signal(seconds: float, sr: int, *, bpm: float = 120.0, channels: int = 1, seed: int = 0) -> np.ndarray:
    """A drum-like click on every beat (louder on bar lines) over a soft chord; shape (n, channels)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    t = np.arange(n) / sr
    y = 0.08 * (np.sin(2 * np.pi * 220.0 * t) + np.sin(2 * np.pi * 277.2 * t) + np.sin(2 * np.pi * 329.6 * t))
    beat_samples = (np.arange(0.25, seconds, 60.0 / bpm) * sr).astype(int)
    decay = np.exp(-np.arange(int(0.08 * sr)) / (0.015 * sr))
    for k, start in enumerate(beat_samples):
        seg = decay[: n - start] * (0.9 if k % 4 == 0 else 0.5)
        y[start : start + seg.size] += seg * (
            np.sin(2 * np.pi * 60.0 * np.arange(seg.size) / sr) + 0.4 * rng.standard_normal(seg.size)
        )
    y = (0.7 * y / np.abs(y).max()).astype(np.float32)
    gains = np.linspace(1.0, 0.6, channels, dtype=np.float32)
    return y[:, None] * gains[None, :]


@pytest.fixture
def write_beat_file(tmp_path: Path) -> Callable[..., Path]:
    """Write ``beat_signal`` to ``tmp_path/<name>`` (format from the suffix) and return the path."""

    def write(name: str, seconds: float = 12.0, sr: int = 22050, channels: int = 1, bpm: float = 120.0) -> Path:
        path = tmp_path / name
        sf.write(str(path), beat_signal(seconds, sr, bpm=bpm, channels=channels), sr)
        return path

    return write


@pytest.fixture
def make_beat_signal() -> Callable[..., np.ndarray]:
    """The ``beat_signal`` synthesiser, for tests that build their own audio."""
    return beat_signal


# suffix -> (PyAV container format, encoder, encoder sample rate)
PYAV_ENCODINGS = {
    ".m4a": ("ipod", "aac", None),
    ".aac": ("adts", "aac", None),
    ".opus": ("ogg", "libopus", 48000),
    ".mp3": ("mp3", "libmp3lame", None),
}


def encode_with_pyav(path: Path, samples: np.ndarray, sr: int) -> Path:
    """Encode (n, channels) float32 ``samples`` with PyAV's own FFmpeg (format from the suffix)."""
    import av

    container_format, codec, codec_rate = PYAV_ENCODINGS[path.suffix]
    layout = "mono" if samples.shape[1] == 1 else "stereo"
    with av.open(str(path), "w", format=container_format) as container:
        stream = container.add_stream(codec, rate=codec_rate or sr, layout=layout)
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples.T), format="fltp", layout=layout)
        frame.sample_rate = sr
        resampler = av.AudioResampler(format=stream.codec_context.format.name, layout=layout, rate=codec_rate or sr)
        for chunk in resampler.resample(frame) + resampler.resample(None):
            container.mux(stream.encode(chunk))
        container.mux(stream.encode(None))
    return path


@pytest.fixture
def write_encoded_file(tmp_path: Path) -> Callable[..., Path]:
    """Write ``beat_signal`` to ``tmp_path/<name>`` as m4a, aac, opus or mp3, encoded by PyAV."""

    def write(name: str, seconds: float = 12.0, sr: int = 44100, channels: int = 2) -> Path:
        return encode_with_pyav(tmp_path / name, beat_signal(seconds, sr, channels=channels), sr)

    return write


@pytest.fixture
def song_and_bars():
    """``make(n_bars)``: a synthetic analysis of ``n_bars`` 4/4 bars in sections of 8 bars (A B A B ...)."""
    from rl_editor.audio.feature_layout import FEATURE_DIM, GROUP_SLICES, feature_index
    from rl_editor.audio.song import SongAnalysis

    def make(n_bars: int, seed: int = 0) -> SongAnalysis:
        rng = np.random.default_rng(seed)
        n = 4 * n_bars
        section = (np.arange(n) // 32) % 2
        means = rng.normal(size=(2, FEATURE_DIM))
        features = means[section] + 0.2 * rng.normal(size=(n, FEATURE_DIM))
        chroma = GROUP_SLICES["chroma_mean"]
        features[:, chroma] = np.abs(features[:, chroma])
        features[:, feature_index("rms_mean_db")] = -20.0 + 3.0 * section
        beat_times = 0.5 * np.arange(n)
        return SongAnalysis(
            song_id=f"bars-{n_bars}",
            path="",
            content_sha256=f"{n_bars:064x}",
            sample_rate=22050,
            source_sample_rate=44100,
            channels=2,
            duration_seconds=float(beat_times[-1] + 0.5),
            tempo_bpm=120.0,
            beat_times_s=beat_times,
            beat_in_bar=np.arange(n) % 4,
            beats_per_bar=4,
            features=features.astype(np.float32),
        )

    return make

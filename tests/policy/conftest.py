"""Small synthetic songs for the policy tests: sections of bars with their own sound."""

from __future__ import annotations

import numpy as np
import pytest

from rl_editor.audio.feature_layout import FEATURE_DIM, GROUP_SLICES, feature_index
from rl_editor.audio.song import SongAnalysis


def make_analysis(seed: int, n_bars: int = 24, beats_per_bar: int = 4, tempo_bpm: float = 120.0) -> SongAnalysis:
    """A song of ``n_bars`` bars in sections of 4 bars; beats within a section sound alike."""
    rng = np.random.default_rng(seed)
    n = n_bars * beats_per_bar
    beat_s = 60.0 / tempo_bpm
    beat_times = 0.3 + np.arange(n) * beat_s
    beat_in_bar = np.arange(n) % beats_per_bar
    n_sections = int(np.ceil(n_bars / 4))
    section_means = rng.normal(0.0, 1.0, size=(n_sections, FEATURE_DIM))
    section = np.arange(n) // (4 * beats_per_bar)
    features = section_means[section] + 0.3 * rng.normal(size=(n, FEATURE_DIM))
    features[:, GROUP_SLICES["chroma_mean"]] = np.abs(features[:, GROUP_SLICES["chroma_mean"]])
    features[:, GROUP_SLICES["chroma_mean"]] /= features[:, GROUP_SLICES["chroma_mean"]].sum(axis=1, keepdims=True)
    # Downbeats are louder and sections differ in level, as in real songs.
    loud = -20.0 + 4.0 * section_means[section, 0] + 3.0 * (beat_in_bar == 0) + rng.normal(0, 0.5, n)
    features[:, feature_index("rms_mean_db")] = loud
    onehot = np.zeros((n, 4))
    onehot[np.arange(n), np.minimum(beat_in_bar, 3)] = 1.0
    features[:, GROUP_SLICES["beat_in_bar_onehot"]] = onehot
    features[:, feature_index("song_position")] = np.arange(n) / n
    return SongAnalysis(
        song_id=f"synthetic-{seed}",
        path=f"synthetic-{seed}.wav",
        content_sha256=f"{seed:064x}",
        sample_rate=22050,
        source_sample_rate=44100,
        channels=2,
        duration_seconds=float(beat_times[-1] + beat_s),
        tempo_bpm=tempo_bpm,
        beat_times_s=beat_times,
        beat_in_bar=beat_in_bar,
        beats_per_bar=beats_per_bar,
        features=features.astype(np.float32),
    )


@pytest.fixture(scope="session")
def synthetic_analyses() -> list[SongAnalysis]:
    """Six synthetic songs of 16-28 bars (train on the first four, hold out the last two)."""
    return [make_analysis(seed, n_bars=16 + 2 * seed) for seed in range(6)]


@pytest.fixture(scope="session")
def long_analyses() -> list[SongAnalysis]:
    """Four synthetic songs of 48-60 bars: long enough to be edited in 4-bar phrases."""
    return [make_analysis(seed, n_bars=48 + 4 * seed) for seed in range(4)]


@pytest.fixture(scope="session")
def song_factory():
    """``make_analysis(seed, n_bars=24, beats_per_bar=4, tempo_bpm=120.0)`` for tests that need a special song."""
    return make_analysis

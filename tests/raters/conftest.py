"""Small structured ``SongAnalysis`` objects built in memory, and rater plugins for the tests.

Each synthetic song is a sequence of sections (intro, verse, chorus, ...) of whole
4/4 bars; a section's beats share a timbre and a loudness, choruses are the
loudest and fullest, and chords change on bar lines, so splice quality, bar
alignment and section strength all behave as on real music.
"""

from __future__ import annotations

import numpy as np
import pytest

from rl_editor.audio.feature_layout import FEATURE_DIM, GROUP_SLICES, feature_index
from rl_editor.audio.song import SongAnalysis

SECTION_ENERGY = {"intro": 0.2, "verse": 0.5, "chorus": 1.0, "bridge": 0.35, "outro": 0.15}
DEFAULT_LAYOUT = (("intro", 4), ("verse", 8), ("chorus", 8), ("verse", 8), ("chorus", 8), ("bridge", 4), ("outro", 4))


def make_song(
    song_id: str = "song",
    layout: tuple[tuple[str, int], ...] = DEFAULT_LAYOUT,
    tempo_bpm: float = 120.0,
    seed: int = 0,
) -> SongAnalysis:
    """A song of ``layout`` (section name, bars) with features shaped like the real analysis."""
    rng = np.random.default_rng(seed)
    beat_s = 60.0 / tempo_bpm
    names = [name for name, bars in layout for _ in range(bars * 4)]
    n = len(names)
    beat_times = 0.1 + beat_s * np.arange(n)
    features = np.zeros((n, FEATURE_DIM), dtype=np.float32)
    timbres = {name: rng.normal(0, 1, 20) for name in SECTION_ENERGY}
    chords = rng.dirichlet(np.ones(12) * 0.3, size=4)
    ranks = {name: r for r, name in enumerate(sorted(SECTION_ENERGY, key=SECTION_ENERGY.get))}
    for b, name in enumerate(names):
        energy = SECTION_ENERGY[name]
        features[b, GROUP_SLICES["mfcc_mean"]] = timbres[name] + rng.normal(0, 0.3, 20)
        features[b, GROUP_SLICES["chroma_mean"]] = chords[(b // 4) % 4] * 0.9
        rms = -30.0 + 18.0 * energy + rng.normal(0, 0.5)
        features[b, feature_index("rms_mean_db")] = rms
        features[b, feature_index("rms_max_db")] = rms + 3.0
        features[b, feature_index("percussive_share")] = 0.3 + 0.5 * energy
        features[b, feature_index("onset_mean")] = 0.2 + 0.7 * energy * (1.0 if b % 2 == 0 else 0.8)
        features[b, feature_index("section_energy_rank")] = ranks[name] / (len(ranks) - 1)
        features[b, GROUP_SLICES["beat_in_bar_onehot"]][b % 4] = 1.0
        features[b, feature_index("beat_duration_s")] = beat_s
        features[b, feature_index("song_position")] = b / n
    mean_rms = features[:, feature_index("rms_mean_db")].mean()
    features[:, feature_index("rms_relative_db")] = features[:, feature_index("rms_mean_db")] - mean_rms
    song = SongAnalysis(
        song_id=song_id,
        path=f"{song_id}.wav",
        content_sha256="0" * 64,
        sample_rate=22050,
        source_sample_rate=44100,
        channels=2,
        duration_seconds=float(beat_times[-1] + beat_s + 0.2),
        tempo_bpm=tempo_bpm,
        beat_times_s=beat_times,
        beat_in_bar=np.arange(n) % 4,
        beats_per_bar=4,
        features=features,
    )
    song.section_names = names  # test-only annotation: which section each beat belongs to
    return song


@pytest.fixture
def song_factory():
    """``make_song`` itself, for tests that need several songs of their own."""
    return make_song


@pytest.fixture
def song() -> SongAnalysis:
    return make_song()


@pytest.fixture
def songs() -> list[SongAnalysis]:
    layouts = [
        DEFAULT_LAYOUT,
        (("intro", 2), ("verse", 8), ("chorus", 8), ("bridge", 4), ("chorus", 8), ("outro", 2)),
        (("verse", 8), ("chorus", 4), ("verse", 8), ("chorus", 4), ("chorus", 4), ("outro", 4)),
    ]
    return [make_song(f"song{k}", layout, tempo_bpm=90 + 20 * k, seed=k) for k, layout in enumerate(layouts)]

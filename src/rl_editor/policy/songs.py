"""Songs for the policy: built from bare per-beat features, fingerprinted."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from rl_editor.audio.feature_layout import FEATURE_DIM, GROUP_SLICES, feature_index
from rl_editor.audio.song import SongAnalysis
from rl_editor.policy.errors import PolicyError
from rl_editor.registry import sha256_of_json


def analysis_from_features(beat_features: np.ndarray, song_id: str = "features") -> SongAnalysis:
    """A ``SongAnalysis`` holding only per-beat features (beats from their duration, bars from the one-hot)."""
    features = np.asarray(beat_features, dtype=np.float32)
    if features.ndim != 2 or features.shape[1] != FEATURE_DIM:
        raise PolicyError(f"beat features must have shape (n_beats, {FEATURE_DIM}), got {features.shape}")
    beat_in_bar = np.argmax(features[:, GROUP_SLICES["beat_in_bar_onehot"]], axis=1)
    durations = features[:, feature_index("beat_duration_s")].astype(np.float64)
    if not np.all(durations > 0):
        durations = np.full(len(features), 0.5)
    starts = np.concatenate([[0.0], np.cumsum(durations)[:-1]])
    return SongAnalysis(
        song_id=song_id,
        path="",
        content_sha256=hashlib.sha256(features.tobytes()).hexdigest(),
        sample_rate=22050,
        source_sample_rate=22050,
        channels=1,
        duration_seconds=float(durations.sum()),
        tempo_bpm=float(60.0 / np.median(durations)),
        beat_times_s=starts,
        beat_in_bar=beat_in_bar,
        beats_per_bar=int(beat_in_bar.max()) + 1 if len(beat_in_bar) else 4,
        features=features,
    )


def songs_fingerprint(analyses: Sequence[SongAnalysis]) -> str:
    """Hash identifying a set of songs (order-independent)."""
    return sha256_of_json(sorted(a.content_sha256 for a in analyses))


__all__ = ["analysis_from_features", "songs_fingerprint"]

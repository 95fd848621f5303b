"""The named layout of the 125-dimensional per-beat feature vector.

Every stage that reads features (splice quality, the policy's observation,
the reward model) indexes them through the slices defined here, never by
bare numbers, so the layout can only change in one place.

Groups, in order (sizes in brackets):

- ``mfcc_mean`` [20]: mean MFCC 0-19 over the beat (timbre).
- ``mfcc_delta_mean`` [20]: mean first-order MFCC delta (timbre movement).
- ``mfcc_std`` [20]: standard deviation of MFCC 0-19 within the beat.
- ``chroma_mean`` [12]: mean CQT/STFT chroma, C..B (harmony), each row sums to <= 1.
- ``chroma_std`` [12]: chroma standard deviation within the beat.
- ``spectral_contrast_mean`` [7]: librosa spectral contrast, 6 bands + valley.
- ``tonnetz_mean`` [6]: tonal centroid features.
- ``spectral_shape`` [5]: centroid (kHz), bandwidth (kHz), rolloff (kHz), flatness, zero-crossing rate.
- ``band_energy_db`` [3]: low (<200 Hz), mid (200-2000 Hz), high (>2000 Hz) energy in dB.
- ``loudness`` [4]: RMS mean (dB), RMS max (dB), RMS relative to the song's mean (dB), percussive share of energy (0-1).
- ``onset`` [3]: onset strength mean, max, and value at the beat onset (all normalised by the song's max).
- ``beat_in_bar_onehot`` [4]: one-hot of the beat's position in its bar (0 = downbeat); bars of other lengths fold onto 4.
- ``timing`` [3]: beat duration (s), local tempo (BPM / 200), position in song (0-1).
- ``structure`` [6]: novelty (section-boundary strength), repetition (max similarity to a beat >= 8 beats away),
  section energy rank (0-1), distance to the nearest novelty peak in beats / 16 (clipped to 1),
  downbeat confidence (0-1), beat confidence (0-1).

Total: 20+20+20+12+12+7+6+5+3+4+3+4+3+6 = 125.
"""

from __future__ import annotations

FEATURE_GROUPS: tuple[tuple[str, int], ...] = (
    ("mfcc_mean", 20),
    ("mfcc_delta_mean", 20),
    ("mfcc_std", 20),
    ("chroma_mean", 12),
    ("chroma_std", 12),
    ("spectral_contrast_mean", 7),
    ("tonnetz_mean", 6),
    ("spectral_shape", 5),
    ("band_energy_db", 3),
    ("loudness", 4),
    ("onset", 3),
    ("beat_in_bar_onehot", 4),
    ("timing", 3),
    ("structure", 6),
)

FEATURE_DIM = 125
# Beside the per-beat vector, each beat's edges (``SongAnalysis.edge_features``): the
# 20 MFCCs and 12 chroma bins of its first and last 232 ms, where splices join beats.
N_EDGE_FEATURES = 20 + 12


def _group_slices() -> dict[str, slice]:
    slices: dict[str, slice] = {}
    start = 0
    for name, size in FEATURE_GROUPS:
        slices[name] = slice(start, start + size)
        start += size
    if start != FEATURE_DIM:  # pragma: no cover - guards edits to the table above
        raise AssertionError(f"feature groups add up to {start}, not {FEATURE_DIM}")
    return slices


GROUP_SLICES: dict[str, slice] = _group_slices()

_SUB_NAMES: dict[str, list[str]] = {
    "chroma_mean": [f"chroma_mean_{p}" for p in "C C# D D# E F F# G G# A A# B".split()],
    "chroma_std": [f"chroma_std_{p}" for p in "C C# D D# E F F# G G# A A# B".split()],
    "spectral_shape": [
        "spectral_centroid_khz",
        "spectral_bandwidth_khz",
        "spectral_rolloff_khz",
        "spectral_flatness",
        "zero_crossing_rate",
    ],
    "band_energy_db": ["band_low_db", "band_mid_db", "band_high_db"],
    "loudness": ["rms_mean_db", "rms_max_db", "rms_relative_db", "percussive_share"],
    "onset": ["onset_mean", "onset_max", "onset_at_beat"],
    "timing": ["beat_duration_s", "local_tempo_scaled", "song_position"],
    "structure": [
        "novelty",
        "repetition",
        "section_energy_rank",
        "novelty_peak_distance",
        "downbeat_confidence",
        "beat_confidence",
    ],
}


def feature_names() -> list[str]:
    """Return the 125 feature names in vector order."""
    names: list[str] = []
    for group, size in FEATURE_GROUPS:
        names.extend(_SUB_NAMES.get(group, [f"{group}_{k}" for k in range(size)]))
    return names


FEATURE_NAMES: list[str] = feature_names()


def feature_index(name: str) -> int:
    """Index of one named feature, e.g. ``feature_index("rms_mean_db")``."""
    return FEATURE_NAMES.index(name)

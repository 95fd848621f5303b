"""``SongAnalysis``: everything later stages need to know about one song.

Beat ``i`` spans ``segment_bounds_s[i]`` to ``segment_bounds_s[i + 1]``. The
first segment starts at 0 s (it carries any pickup before the first tracked
beat) and the last ends at the end of the file (it carries the tail), which is
why edits always keep the first and last beat.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from rl_editor.audio.feature_layout import FEATURE_DIM, GROUP_SLICES, N_EDGE_FEATURES

T = TypeVar("T")

ANALYSIS_VERSION = "6"


def segment_bounds(beat_times_s: Sequence[float] | np.ndarray, duration_seconds: float) -> np.ndarray:
    """Shape (n_beats + 1,): where each beat's audio starts (the first from 0 s) and the last one ends.

    Audio before the first beat belongs to the first beat's segment, so an edit
    never drops a song's pickup.
    """
    bounds = np.append(np.asarray(beat_times_s, dtype=np.float64), float(duration_seconds))
    if bounds.size > 1:
        bounds[0] = 0.0
    return bounds


class BeatSegments:
    """Where each beat's audio is, for any type with ``beat_times_s`` and ``duration_seconds``."""

    beat_times_s: np.ndarray
    duration_seconds: float

    @property
    def segment_bounds_s(self) -> np.ndarray:
        """Shape (n_beats + 1,): where each beat's audio starts and the last one ends (seconds)."""
        return segment_bounds(self.beat_times_s, self.duration_seconds)

    @property
    def beat_durations_s(self) -> np.ndarray:
        """Shape (n_beats,): seconds of audio each beat's segment holds."""
        return np.diff(self.segment_bounds_s)


@dataclass
class SongAnalysis(BeatSegments):
    """Beats, bars and per-beat features of one audio file.

    Attributes
    ----------
    song_id : str
        Stable identifier (the file stem unless given otherwise).
    path : str
        The analysed file, as given.
    content_sha256 : str
        Hash of the file's bytes; with ``ANALYSIS_VERSION`` it keys the cache.
    sample_rate : int
        Analysis rate in Hz (audio is resampled to it, mono).
    source_sample_rate, channels : int
        Of the file itself; rendering keeps both.
    duration_seconds : float
        Length of the file.
    tempo_bpm : float
        Global tempo estimate.
    beat_times_s : ndarray, shape (n_beats,)
        Beat onsets in seconds, strictly increasing.
    beat_in_bar : ndarray of int, shape (n_beats,)
        Position of each beat in its bar, 0 on downbeats.
    beats_per_bar : int
        Meter used for ``beat_in_bar`` (4 unless detected otherwise).
    features : ndarray of float32, shape (n_beats, 125)
        Per-beat features, layout in ``rl_editor.audio.feature_layout``.
    edge_features : ndarray of float32, shape (n_beats, 2, 32), optional
        MFCC and chroma means right after each beat starts and right before it
        ends (``rl_editor.audio.features.beat_edges``): what a splice joins.
        None for analyses made from per-beat features alone; ``beat_edges``
        then stands in each beat's means.
    """

    song_id: str
    path: str
    content_sha256: str
    sample_rate: int
    source_sample_rate: int
    channels: int
    duration_seconds: float
    tempo_bpm: float
    beat_times_s: np.ndarray
    beat_in_bar: np.ndarray
    beats_per_bar: int
    features: np.ndarray
    edge_features: np.ndarray | None = None
    version: str = ANALYSIS_VERSION
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    def derived(self, key: Hashable, compute: Callable[[], T]) -> T:
        """A value computed from this analysis once and kept with it (``compute()`` on first use).

        Splice tables, observation tables and rater calibrations live here so
        that every user of one analysis object shares them. ``key`` must say
        everything the value depends on besides the analysis.
        """
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    def __post_init__(self) -> None:
        self.beat_times_s = np.asarray(self.beat_times_s, dtype=np.float64)
        self.beat_in_bar = np.asarray(self.beat_in_bar, dtype=np.int64)
        self.features = np.asarray(self.features, dtype=np.float32)
        if self.features.shape != (len(self.beat_times_s), FEATURE_DIM):
            raise ValueError(
                f"{self.path}: features have shape {self.features.shape}, "
                f"expected ({len(self.beat_times_s)}, {FEATURE_DIM})"
            )
        if self.edge_features is not None:
            self.edge_features = np.asarray(self.edge_features, dtype=np.float32)
            if self.edge_features.shape != (len(self.beat_times_s), 2, N_EDGE_FEATURES):
                raise ValueError(
                    f"{self.path}: edge features have shape {self.edge_features.shape}, "
                    f"expected ({len(self.beat_times_s)}, 2, {N_EDGE_FEATURES})"
                )

    @property
    def n_beats(self) -> int:
        return int(len(self.beat_times_s))

    @property
    def downbeat_times_s(self) -> np.ndarray:
        return self.beat_times_s[self.beat_in_bar == 0]

    @property
    def beat_edges(self) -> np.ndarray:
        """Shape (n_beats, 2, 32): each beat's head and tail (``edge_features``), or when the analysis
        has none, its MFCC and chroma means as both."""
        if self.edge_features is not None:
            return self.edge_features
        means = np.concatenate([self.group("mfcc_mean"), self.group("chroma_mean")], axis=1)
        return np.repeat(means[:, None, :], 2, axis=1)

    def group(self, name: str) -> np.ndarray:
        """Columns of one feature group, e.g. ``analysis.group("chroma_mean")``."""
        return self.features[:, GROUP_SLICES[name]]

    def to_npz(self, path: str | Path) -> None:
        """Write the analysis to one ``.npz`` file (used by the cache)."""
        arrays: dict[str, Any] = dict(
            song_id=self.song_id,
            path=self.path,
            content_sha256=self.content_sha256,
            sample_rate=self.sample_rate,
            source_sample_rate=self.source_sample_rate,
            channels=self.channels,
            duration_seconds=self.duration_seconds,
            tempo_bpm=self.tempo_bpm,
            beat_times_s=self.beat_times_s,
            beat_in_bar=self.beat_in_bar,
            beats_per_bar=self.beats_per_bar,
            features=self.features,
            version=self.version,
        )
        if self.edge_features is not None:
            arrays["edge_features"] = self.edge_features
        np.savez(path, **arrays)

    @classmethod
    def from_npz(cls, path: str | Path) -> SongAnalysis:
        """Read an analysis written by :meth:`to_npz`."""
        with np.load(path, allow_pickle=False) as data:
            return cls(
                song_id=str(data["song_id"]),
                path=str(data["path"]),
                content_sha256=str(data["content_sha256"]),
                sample_rate=int(data["sample_rate"]),
                source_sample_rate=int(data["source_sample_rate"]),
                channels=int(data["channels"]),
                duration_seconds=float(data["duration_seconds"]),
                tempo_bpm=float(data["tempo_bpm"]),
                beat_times_s=data["beat_times_s"],
                beat_in_bar=data["beat_in_bar"],
                beats_per_bar=int(data["beats_per_bar"]),
                features=data["features"],
                edge_features=data["edge_features"] if "edge_features" in data.files else None,
                version=str(data["version"]),
            )

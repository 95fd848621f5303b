"""What material a song is made of, beat by beat and song-relative: where its intro,
outro and reprises are, and how loud, bright, melodic or new each beat is within the song.

Judging *which* material an edit keeps needs descriptors that mean the same on
every song: a percentile within the song (1 = the song's most melodic beat) or a
region of the song's own structure (its first section, its reprises). Simulated
tastes (:mod:`rl_editor.raters.tastes`) and the reward model's edit statistics
(:mod:`rl_editor.reward.features`) read them from here, so both speak of the same
intro and the same reprise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rl_editor.audio.feature_layout import feature_index
from rl_editor.audio.song import SongAnalysis
from rl_editor.audio.structure import song_structure

EDGE_SECTION_BARS = (4, 16)  # an intro or outro spans its section, clipped to this many bars


def percentile_within_song(values: np.ndarray) -> np.ndarray:
    """Shape like ``values``: each value's rank as a percentile in (0, 1), ties broken by order."""
    order = np.argsort(np.argsort(np.asarray(values, dtype=np.float64), kind="stable"), kind="stable")
    return (order + 0.5) / max(len(order), 1)


def melodic_strength(song: SongAnalysis) -> np.ndarray:
    """Shape (n_beats,): how melodic each beat is, as a percentile within the song (1 most melodic).

    Harmonic rather than percussive energy (low ``percussive_share``) and a tonal
    rather than noisy spectrum (low ``spectral_flatness``), each ranked within the
    song, the two ranks summed and ranked again.
    """

    def compute() -> np.ndarray:
        f = song.features
        raw = percentile_within_song(-f[:, feature_index("percussive_share")]) + percentile_within_song(
            -f[:, feature_index("spectral_flatness")]
        )
        return percentile_within_song(raw)

    return song.derived("content_melodic_strength", compute)


def feature_percentile(song: SongAnalysis, name: str) -> np.ndarray:
    """Shape (n_beats,): one named per-beat feature as a percentile within the song (cached)."""
    return song.derived(
        ("content_feature_percentile", name), lambda: percentile_within_song(song.features[:, feature_index(name)])
    )


@dataclass(frozen=True)
class ContentRegions:
    """Where a song's intro, outro and reprises are, as boolean masks of shape (n_beats,).

    Attributes
    ----------
    intro, outro : ndarray of bool
        The first and the last section, clipped to 4-16 bars and to a quarter of the song.
    reprise : ndarray of bool
        Sections whose label was heard in an earlier section (a chorus the second time).
    """

    intro: np.ndarray
    outro: np.ndarray
    reprise: np.ndarray


def content_regions(song: SongAnalysis) -> ContentRegions:
    """The song's intro, outro and reprised sections (:class:`ContentRegions`), cached on the analysis."""

    def compute() -> ContentRegions:
        structure = song_structure(song)
        bars = np.append(structure.bar_start_beats, song.n_beats)
        bounds = structure.section_bounds_beats
        low, high = EDGE_SECTION_BARS
        n_bars = bars.size - 1
        most = min(high, max(n_bars // 4, 1))  # an intro or outro is never more than a quarter of the song

        def clipped(n_section_bars: int) -> int:
            return int(np.clip(n_section_bars, min(low, most), most))

        intro_bars = clipped(int(np.searchsorted(bars, bounds[1])))
        outro_bars = clipped(n_bars - int(np.searchsorted(bars, bounds[-2])))
        intro = np.zeros(song.n_beats, dtype=bool)
        intro[: bars[intro_bars]] = True
        outro = np.zeros(song.n_beats, dtype=bool)
        outro[bars[n_bars - outro_bars] :] = True
        reprise = np.zeros(song.n_beats, dtype=bool)
        heard: set[str] = set()
        for k, label in enumerate(structure.section_labels):
            if label in heard:
                reprise[bounds[k] : bounds[k + 1]] = True
            heard.add(label)
        return ContentRegions(intro, outro, reprise)

    return song.derived("content_regions", compute)


__all__ = [
    "ContentRegions",
    "EDGE_SECTION_BARS",
    "content_regions",
    "feature_percentile",
    "melodic_strength",
    "percentile_within_song",
]

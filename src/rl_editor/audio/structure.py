"""Song structure from the per-beat analysis: bars, phrases and labelled sections.

Editors shorten a song by removing whole phrases or sections (a verse, a
repeated chorus, a bridge) with few splices. This module finds those units
from the beat grid and the beat-synchronous features a :class:`SongAnalysis`
already holds, so it needs no audio and runs in milliseconds:

1. **Bars** start at the downbeats (``beat_in_bar == 0``); beats before the
   first downbeat (a pickup) join the first bar.
2. **Sections**: a bar-level self-similarity matrix of timbre (MFCC),
   harmony (chroma) and loudness, and Foote's checkerboard novelty on its
   diagonal (Foote, 2000, "Automatic audio segmentation using a measure of
   audio novelty"). Novelty peaks at least ``min_section_bars`` apart become
   section boundaries; a peak one bar off the 4-bar grid of its section is
   moved onto it when the novelty there is nearly as high, since sections of
   popular music mostly span multiples of 4 bars.
3. **Labels**: sections whose mean features are alike (average-linkage
   clustering on cosine distance, SciPy) share a label, so a repeated
   chorus gets the same letter as the first one.
4. **Phrases**: each section is cut into groups of ``phrase_bars`` bars from
   its start (4; 2 in songs under ``short_song_bars`` bars, 1 under half of
   that, so short songs still have enough phrases to reach a length); a
   remainder shorter than half a phrase joins the phrase before it.

Every boundary is a beat index, and every phrase boundary is a bar line.

Example
-------
>>> structure = song_structure(analysis)  # doctest: +SKIP
>>> structure.section_labels  # doctest: +SKIP
['A', 'B', 'C', 'B', 'C', 'D']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from rl_editor.audio.feature_layout import GROUP_SLICES, feature_index
from rl_editor.audio.song import SongAnalysis

STRUCTURE_VERSION = "1"


@dataclass(frozen=True)
class StructureConfig:
    """Knobs of :func:`song_structure` (defaults suit songs of 1-8 minutes).

    Attributes
    ----------
    phrase_bars : int
        Bars per phrase in songs of at least ``short_song_bars`` bars.
    short_song_bars : int
        Below this many bars, phrases are half as long, and below half of it a
        quarter (finer edits of short songs).
    kernel_bars : int
        Half-width of the checkerboard kernel, in bars.
    min_section_bars : int
        Shortest section, in bars.
    novelty_threshold : float
        A novelty peak becomes a boundary when it exceeds the median novelty by
        this many median absolute deviations.
    label_distance : float
        Sections closer than this cosine distance (0-2) share a label.
    snap_ratio : float
        A boundary one bar off the 4-bar grid moves onto it when the novelty
        there is at least this share of the peak's.
    """

    phrase_bars: int = 4
    short_song_bars: int = 96
    kernel_bars: int = 4
    min_section_bars: int = 4
    novelty_threshold: float = 1.0
    label_distance: float = 0.35
    snap_ratio: float = 0.8


@dataclass(frozen=True)
class SongStructure:
    """Bars, phrases and sections of one song, as beat indices.

    Attributes
    ----------
    n_beats : int
    bar_start_beats : ndarray of int, shape (n_bars,)
        First beat of every bar (the first is always 0).
    phrase_start_beats : ndarray of int, shape (n_phrases,)
        First beat of every phrase (a subset of the bar starts; the first is 0).
    section_start_beats : ndarray of int, shape (n_sections,)
        First beat of every section (a subset of the phrase starts; the first is 0).
    section_labels : tuple of str
        One letter per section; sections that sound alike share a letter.
    """

    n_beats: int
    bar_start_beats: np.ndarray
    phrase_start_beats: np.ndarray
    section_start_beats: np.ndarray
    section_labels: tuple[str, ...]

    @property
    def n_phrases(self) -> int:
        return int(self.phrase_start_beats.size)

    @property
    def n_sections(self) -> int:
        return int(self.section_start_beats.size)

    @property
    def phrase_bounds_beats(self) -> np.ndarray:
        """Shape (n_phrases + 1,): phrase ``k`` spans beats ``[b[k], b[k + 1])``."""
        return np.append(self.phrase_start_beats, self.n_beats)

    @property
    def section_bounds_beats(self) -> np.ndarray:
        """Shape (n_sections + 1,): section ``k`` spans beats ``[b[k], b[k + 1])``."""
        return np.append(self.section_start_beats, self.n_beats)

    def phrase_section(self) -> np.ndarray:
        """Shape (n_phrases,): the section each phrase belongs to."""
        return np.searchsorted(self.section_start_beats, self.phrase_start_beats, side="right") - 1

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form (for manifests and the rater page)."""
        return {
            "version": STRUCTURE_VERSION,
            "bar_start_beats": self.bar_start_beats.tolist(),
            "phrase_start_beats": self.phrase_start_beats.tolist(),
            "section_start_beats": self.section_start_beats.tolist(),
            "section_labels": list(self.section_labels),
        }


def bar_starts(beat_in_bar: np.ndarray) -> np.ndarray:
    """First beat of every bar; a pickup before the first downbeat joins the first bar."""
    beat_in_bar = np.asarray(beat_in_bar)
    downbeats = np.flatnonzero(beat_in_bar == 0)
    return np.concatenate([[0], downbeats[1:]]).astype(np.int64)


def group_means(per_beat: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Row means of ``per_beat`` over consecutive groups of beats starting at ``starts`` (bars, phrases)."""
    sums = np.add.reduceat(per_beat, starts, axis=0)
    counts = np.diff(np.append(starts, len(per_beat)))[:, None]
    means: np.ndarray = sums / counts
    return means


def _bar_features(analysis: SongAnalysis, bars: np.ndarray) -> np.ndarray:
    """Shape (n_bars, d): z-scored timbre, unit chroma and loudness averaged over each bar."""
    feats = analysis.features.astype(np.float64)
    mfcc = feats[:, GROUP_SLICES["mfcc_mean"]][:, 1:]
    mfcc = (mfcc - mfcc.mean(axis=0)) / (mfcc.std(axis=0) + 1e-6)
    chroma = np.maximum(feats[:, GROUP_SLICES["chroma_mean"]], 0.0)
    chroma = chroma / np.maximum(np.linalg.norm(chroma, axis=1, keepdims=True), 1e-8)
    chroma = (chroma - chroma.mean(axis=0)) / (chroma.std(axis=0) + 1e-6)
    loud = feats[:, [feature_index("rms_mean_db")]]
    loud = (loud - loud.mean()) / (loud.std() + 1e-6)
    per_beat = np.concatenate([mfcc / np.sqrt(mfcc.shape[1]), chroma / np.sqrt(12.0), loud], axis=1)
    return group_means(per_beat, bars)


def _cosine_similarity(x: np.ndarray) -> np.ndarray:
    unit = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-8)
    similarity: np.ndarray = unit @ unit.T
    return similarity


def checkerboard_novelty(similarity: np.ndarray, half_width: int) -> np.ndarray:
    """Foote novelty along the diagonal of a self-similarity matrix, zero-padded at the edges."""
    n = similarity.shape[0]
    w = max(int(half_width), 1)
    offsets = np.arange(-w, w)
    sign = np.where(offsets < 0, -1.0, 1.0)
    taper = np.exp(-0.5 * ((offsets + 0.5) / (0.5 * w)) ** 2)
    kernel = np.outer(sign * taper, sign * taper)
    padded = np.zeros((n + 2 * w, n + 2 * w))
    padded[w : w + n, w : w + n] = similarity
    novelty = np.array([np.sum(kernel * padded[i : i + 2 * w, i : i + 2 * w]) for i in range(n)])
    clipped: np.ndarray = np.maximum(novelty, 0.0)
    return clipped


def _section_boundaries(novelty: np.ndarray, config: StructureConfig) -> list[int]:
    """Bar indices where sections start (0 first), from novelty peaks."""
    n = novelty.size
    if n < 2 * config.min_section_bars:
        return [0]
    median = float(np.median(novelty))
    mad = float(np.median(np.abs(novelty - median))) + 1e-9
    peaks = [i for i in range(1, n - 1) if novelty[i] >= novelty[i - 1] and novelty[i] >= novelty[i + 1]]
    peaks = [i for i in peaks if novelty[i] > median + config.novelty_threshold * mad]
    chosen: list[int] = []
    for i in sorted(peaks, key=lambda p: -novelty[p]):
        if i < config.min_section_bars or n - i < config.min_section_bars:
            continue
        if all(abs(i - c) >= config.min_section_bars for c in chosen):
            chosen.append(i)
    bounds = [0]
    for i in sorted(chosen):
        offset = (i - bounds[-1]) % 4
        if offset in (1, 3):
            snapped = i - 1 if offset == 1 else i + 1
            # onto the grid only where the song changes almost as much there (an odd-length intro stays odd)
            if (
                snapped - bounds[-1] >= config.min_section_bars
                and n - snapped >= config.min_section_bars
                and novelty[snapped] >= config.snap_ratio * novelty[i]
            ):
                i = snapped
        if i - bounds[-1] >= config.min_section_bars:
            bounds.append(i)
    return bounds


def _labels(bar_feats: np.ndarray, sections: list[int], config: StructureConfig) -> tuple[str, ...]:
    if len(sections) == 1:
        return ("A",)
    from scipy.cluster.hierarchy import fcluster, linkage

    ends = sections[1:] + [len(bar_feats)]
    means = np.stack([bar_feats[s:e].mean(axis=0) for s, e in zip(sections, ends)])
    clusters = fcluster(
        linkage(means, method="average", metric="cosine"), t=config.label_distance, criterion="distance"
    )
    letters: dict[int, str] = {}
    out = []
    for c in clusters:
        if c not in letters:
            index = len(letters)
            letters[c] = chr(ord("A") + index) if index < 26 else f"Z{index - 25}"
        out.append(letters[c])
    return tuple(out)


def _phrases(sections: list[int], n_bars: int, phrase_bars: int) -> list[int]:
    """Bar indices where phrases start, ``phrase_bars`` at a time within each section."""
    starts: list[int] = []
    ends = sections[1:] + [n_bars]
    for s, e in zip(sections, ends):
        chunk = list(range(s, e, phrase_bars))
        if len(chunk) > 1 and e - chunk[-1] < (phrase_bars + 1) // 2:
            chunk.pop()
        starts.extend(chunk)
    return starts


def compute_structure(analysis: SongAnalysis, config: StructureConfig | None = None) -> SongStructure:
    """Bars, phrases and labelled sections of an analysed song (see the module docstring).

    Parameters
    ----------
    analysis : SongAnalysis
    config : StructureConfig, optional

    Returns
    -------
    SongStructure
    """
    config = config or StructureConfig()
    bars = bar_starts(analysis.beat_in_bar)
    n_bars = bars.size
    bar_feats = _bar_features(analysis, bars)
    novelty = checkerboard_novelty(_cosine_similarity(bar_feats), config.kernel_bars)
    sections = _section_boundaries(novelty, config)
    phrase_bars = config.phrase_bars
    for limit in (config.short_song_bars, config.short_song_bars // 2):
        if n_bars < limit:
            phrase_bars = max(phrase_bars // 2, 1)
    phrases = _phrases(sections, n_bars, phrase_bars)
    return SongStructure(
        n_beats=analysis.n_beats,
        bar_start_beats=bars,
        phrase_start_beats=bars[phrases],
        section_start_beats=bars[sections],
        section_labels=_labels(bar_feats, sections, config),
    )


EDITORIAL_CUT_BARS = 4
# Songs shorter than this many bars (under about a minute and a half) are edited bar by bar, not in
# 4-bar phrases: one 4-bar cut of a 16-bar jingle removes a quarter of it (the phrase grid of such a
# song is 1 bar, see :func:`compute_structure`).
EDITORIAL_MIN_BARS = 48


def edited_in_phrases(structure: SongStructure) -> bool:
    """Whether an editor would cut ``structure``'s song in whole 4-bar phrases and sections (long enough)."""
    return structure.bar_start_beats.size >= EDITORIAL_MIN_BARS


def phrase_cut_table(structure: SongStructure, max_phrases: int) -> np.ndarray:
    """Which phrase-level cuts an editor would make.

    Parameters
    ----------
    structure : SongStructure
    max_phrases : int
        Most phrases one cut removes.

    Returns
    -------
    ndarray of bool, shape (n_phrases, max_phrases + 2)
        Entry ``[s, d]`` is True when cutting phrases ``s .. s + d - 1`` and
        going on at phrase ``s + d`` spans a multiple of ``EDITORIAL_CUT_BARS``
        bars or ends on a section boundary (the criterion of :func:`cut_alignment`),
        with ``1 <= d <= max_phrases`` and ``s + d`` a phrase of the song (the
        last phrase is never cut).
    """
    n, width = structure.n_phrases, max_phrases + 2
    bar_of_phrase = np.searchsorted(structure.bar_start_beats, structure.phrase_start_beats)
    starts_section = np.isin(structure.phrase_start_beats, structure.section_start_beats)
    s = np.arange(n)[:, None]
    d = np.arange(width)[None, :]
    resume = s + d
    inside = (d >= 1) & (d <= max_phrases) & (resume < n)
    resume = np.minimum(resume, n - 1)
    spans_bars = bar_of_phrase[resume] - bar_of_phrase[s]
    editorial = (spans_bars % EDITORIAL_CUT_BARS == 0) | starts_section[resume]
    table: np.ndarray = inside & editorial
    return table


def cut_runs(actions: np.ndarray) -> np.ndarray:
    """Shape (n_cuts, 2): ``[start, end)`` beats of each maximal run of cut beats."""
    from rl_editor.edit import CUT

    cut = np.concatenate([[False], np.asarray(actions) == CUT, [False]])
    return np.flatnonzero(cut[1:] != cut[:-1]).reshape(-1, 2)


def _editorial_flags(structure: SongStructure, runs: np.ndarray) -> list[bool]:
    """Per cut: does it span a multiple of 4 whole bars, or end on a section boundary?"""
    bars = np.append(structure.bar_start_beats, structure.n_beats)
    bar_set, sections = set(bars.tolist()), set(structure.section_bounds_beats.tolist())
    n_bars = np.searchsorted(bars, runs[:, 1]) - np.searchsorted(bars, runs[:, 0])
    return [
        bool((start in bar_set and end in bar_set and n % EDITORIAL_CUT_BARS == 0) or end in sections)
        for (start, end), n in zip(runs.tolist(), n_bars.tolist())
    ]


def ragged_cuts(structure: SongStructure, actions: np.ndarray) -> int:
    """How many of the edit's cuts an editor would not make (see :func:`cut_alignment`)."""
    return sum(not ok for ok in _editorial_flags(structure, cut_runs(actions)))


def cut_alignment(structure: SongStructure, actions: np.ndarray) -> dict[str, float]:
    """How editorial an edit's cuts are.

    Returns ``n_cuts`` (maximal runs of cut beats), ``whole_phrase_share``
    (cuts that start and end on phrase boundaries of ``structure``) and
    ``four_bar_or_section_share`` (cuts that span a multiple of 4 whole bars, or
    end on a section boundary); the shares are NaN without cuts.
    """
    runs = cut_runs(actions)
    if runs.size == 0:
        return {"n_cuts": 0.0, "whole_phrase_share": float("nan"), "four_bar_or_section_share": float("nan")}
    phrases = set(structure.phrase_bounds_beats.tolist())
    whole = [start in phrases and end in phrases for start, end in runs.tolist()]
    return {
        "n_cuts": float(len(runs)),
        "whole_phrase_share": float(np.mean(whole)),
        "four_bar_or_section_share": float(np.mean(_editorial_flags(structure, runs))),
    }


def structure_times(analysis: SongAnalysis) -> dict[str, list[Any]]:
    """A song's bars and sections in seconds, as written to JSON by ``analyze --json`` and ``edit``.

    Returns
    -------
    dict
        ``bar_times_s``: where each bar starts; ``sections``: ``start_s``, ``end_s``
        and ``label`` (sections that sound alike share a letter) of each section.
        Times are the beat grid's segment bounds (the first starts at 0 s, the last
        section ends at the end of the file), rounded to the millisecond.
    """
    structure = song_structure(analysis)
    bounds = analysis.segment_bounds_s
    sections = structure.section_bounds_beats
    return {
        "bar_times_s": [round(float(bounds[b]), 3) for b in structure.bar_start_beats],
        "sections": [
            {"start_s": round(float(bounds[a]), 3), "end_s": round(float(bounds[b]), 3), "label": label}
            for a, b, label in zip(sections[:-1], sections[1:], structure.section_labels)
        ],
    }


def song_structure(analysis: SongAnalysis) -> SongStructure:
    """:func:`compute_structure` with the default settings, computed once per analysis object."""
    return analysis.derived(("structure", STRUCTURE_VERSION), lambda: compute_structure(analysis))


__all__ = [
    "EDITORIAL_CUT_BARS",
    "SongStructure",
    "StructureConfig",
    "bar_starts",
    "checkerboard_novelty",
    "compute_structure",
    "cut_alignment",
    "cut_runs",
    "group_means",
    "phrase_cut_table",
    "ragged_cuts",
    "song_structure",
]

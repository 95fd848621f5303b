"""How good a splice sounds, from per-beat features alone.

A splice jumps from the end of beat ``i`` to the start of beat ``j``. It sounds
natural when ``j`` resembles what would have followed ``i`` (beat ``i + 1``)
and ``i`` resembles what would have preceded ``j`` (beat ``j - 1``). Each
component is in [0, 1], 1 being seamless:

- ``timbre``: cosine similarity of z-scored MFCC means (without c0), mapped to [0, 1].
- ``harmony``: cosine similarity of chroma means.
- ``energy``: ``exp(-|loudness difference in dB| / 6)``.
- ``bar_phase``: 1 if the jump keeps the position in the bar (``j`` sits where
  ``i + 1`` would), else 0.
- ``on_bar_line``: 1 if the splice falls on a bar line (``i + 1`` and ``j`` are downbeats).

``quality`` is the weighted mean with ``SPLICE_WEIGHTS``. The policy's dense
reward and the rater page both use these numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rl_editor.audio.feature_layout import GROUP_SLICES, feature_index
from rl_editor.audio.song import SongAnalysis

SPLICE_WEIGHTS: dict[str, float] = {
    "timbre": 0.3,
    "harmony": 0.25,
    "energy": 0.2,
    "bar_phase": 0.15,
    "on_bar_line": 0.1,
}
ENERGY_SCALE_DB = 6.0


@dataclass(frozen=True)
class SpliceComponents:
    """Per-splice scores, each an array of the same shape, in [0, 1]."""

    timbre: np.ndarray
    harmony: np.ndarray
    energy: np.ndarray
    bar_phase: np.ndarray
    on_bar_line: np.ndarray

    @property
    def quality(self) -> np.ndarray:
        return sum(w * getattr(self, name) for name, w in SPLICE_WEIGHTS.items())


def _unit_rows(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-8)


def _splice_tables(analysis: SongAnalysis) -> dict[str, np.ndarray]:
    """Per-song normalised feature tables, computed once and kept on the analysis."""
    def compute() -> dict[str, np.ndarray]:
        mfcc = analysis.features[:, GROUP_SLICES["mfcc_mean"]][:, 1:].astype(np.float64)
        mfcc = (mfcc - mfcc.mean(axis=0)) / (mfcc.std(axis=0) + 1e-6)
        chroma = analysis.features[:, GROUP_SLICES["chroma_mean"]].astype(np.float64)
        return {
            "timbre": _unit_rows(mfcc),
            "harmony": _unit_rows(np.maximum(chroma, 0.0)),
            "loudness_db": analysis.features[:, feature_index("rms_mean_db")].astype(np.float64),
            "beat_in_bar": analysis.beat_in_bar,
        }

    return analysis.derived("splice_tables", compute)


def splice_components(
    analysis: SongAnalysis, from_beats: np.ndarray, to_beats: np.ndarray
) -> SpliceComponents:
    """Score splices from the end of ``from_beats[k]`` to the start of ``to_beats[k]``.

    Parameters
    ----------
    analysis : SongAnalysis
    from_beats, to_beats : array of int, same shape
        Source beat indices on each side of each splice.

    Returns
    -------
    SpliceComponents
        Arrays of the inputs' shape.
    """
    t = _splice_tables(analysis)
    n = analysis.n_beats
    i = np.asarray(from_beats, dtype=np.int64)
    j = np.asarray(to_beats, dtype=np.int64)
    after_i = np.minimum(i + 1, n - 1)
    before_j = np.maximum(j - 1, 0)

    def similarity(table: np.ndarray) -> np.ndarray:
        forward = np.einsum("...d,...d->...", table[j], table[after_i])
        backward = np.einsum("...d,...d->...", table[i], table[before_j])
        return 0.5 * (forward + backward)

    timbre = 0.5 * (similarity(t["timbre"]) + 1.0)
    harmony = similarity(t["harmony"])
    loud = t["loudness_db"]
    energy_gap = 0.5 * (np.abs(loud[j] - loud[after_i]) + np.abs(loud[i] - loud[before_j]))
    energy = np.exp(-energy_gap / ENERGY_SCALE_DB)
    bib = t["beat_in_bar"]
    bar_phase = (bib[j] == bib[after_i]).astype(np.float64)
    on_bar_line = ((bib[j] == 0) & (bib[after_i] == 0)).astype(np.float64)
    return SpliceComponents(
        timbre=np.clip(timbre, 0.0, 1.0),
        harmony=np.clip(harmony, 0.0, 1.0),
        energy=energy,
        bar_phase=bar_phase,
        on_bar_line=on_bar_line,
    )


def splice_quality(analysis: SongAnalysis, from_beats: np.ndarray, to_beats: np.ndarray) -> np.ndarray:
    """Weighted splice quality in [0, 1] for each ``(from_beats[k], to_beats[k])``."""
    return splice_components(analysis, from_beats, to_beats).quality


def splice_quality_matrix(analysis: SongAnalysis) -> np.ndarray:
    """Shape (n_beats, n_beats): entry ``[i, j]`` is the quality of jumping from beat ``i`` to ``j``.

    Computed once per song and cached on the analysis; environments look splices up here.
    """
    def compute() -> np.ndarray:
        n = analysis.n_beats
        i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
        return splice_quality(analysis, i, j).astype(np.float32)

    return analysis.derived("splice_matrix", compute)

"""What the policy sees at each beat, built for many slots at once.

The observation is one float32 vector, in this order:

1. ``window``: for each beat from ``t - lookback`` to ``t + lookahead``, the
   ``COMPACT_FEATURES`` of the 125-dim layout plus the timbre and harmony
   change to the following beat, each z-scored within the song and clipped to
   +-4 (zeros outside the song).
2. ``beat_in_bar``: one-hot (4) of the current beat's position in its bar.
3. ``resume``: for ``k = 0 .. max_cut_run``, the splice quality and on-bar-line
   flag of resuming playback at beat ``t + k`` after the last played beat (0
   where that jump is not possible). When nothing is being cut, ``k = 0`` is
   the natural continuation and ``k >= 1`` tells how a cut starting now would
   sound.
4. ``state`` (13): kept share so far minus the target; distance from the
   target length so far and beats still to cut to reach it (in units of 4
   bars, clipped); beats since the last splice / 16; current cut run / limit;
   current repeat run / beats per bar; previous action one-hot (3); whether a
   cut is in progress; progress through the song (0-1); remaining beats / 64
   (clipped at 4); beats to the next downbeat / beats per bar.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from rl_editor.audio.feature_layout import GROUP_SLICES, feature_index
from rl_editor.audio.song import SongAnalysis
from rl_editor.audio.splice import splice_components

if TYPE_CHECKING:  # pragma: no cover
    from rl_editor.policy.env import EditBatch, EnvConfig

COMPACT_FEATURES: tuple[str, ...] = (
    "rms_relative_db",
    "rms_mean_db",
    "percussive_share",
    "onset_mean",
    "onset_max",
    "onset_at_beat",
    "novelty",
    "repetition",
    "section_energy_rank",
    "novelty_peak_distance",
    "downbeat_confidence",
    "band_low_db",
    "band_high_db",
    "spectral_centroid_khz",
    "spectral_flatness",
)
N_WINDOW_FEATURES = len(COMPACT_FEATURES) + 2
N_STATE = 13


def _zscore(x: np.ndarray) -> np.ndarray:
    z = (x - x.mean(axis=0)) / (x.std(axis=0) + 1e-6)
    return np.clip(z, -4.0, 4.0)


def _change_to_next(x: np.ndarray) -> np.ndarray:
    """1 - cosine similarity of each row with the next one (0 for the last row)."""
    unit = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-8)
    change = np.zeros(len(x))
    change[:-1] = 1.0 - np.einsum("ij,ij->i", unit[:-1], unit[1:])
    return change


def compact_features(analysis: SongAnalysis) -> np.ndarray:
    """Shape (n_beats, N_WINDOW_FEATURES) float32: the per-beat part of the observation."""
    cols = [analysis.features[:, feature_index(name)].astype(np.float64) for name in COMPACT_FEATURES]
    mfcc = analysis.features[:, GROUP_SLICES["mfcc_mean"]][:, 1:].astype(np.float64)
    mfcc = (mfcc - mfcc.mean(axis=0)) / (mfcc.std(axis=0) + 1e-6)
    chroma = np.maximum(analysis.features[:, GROUP_SLICES["chroma_mean"]].astype(np.float64), 0.0)
    cols += [_change_to_next(mfcc), _change_to_next(chroma)]
    return _zscore(np.stack(cols, axis=1)).astype(np.float32)


def song_tables(analysis: SongAnalysis, config: "EnvConfig") -> dict[str, np.ndarray]:
    """Per-song tables the environment gathers from, cached on the analysis.

    ``*_band`` tables have shape (n_beats, max_cut_run + 2); entry ``[i, d]`` is
    about the splice from beat ``i`` to beat ``i + d`` (``d = 0``: repeating ``i``).
    ``splice_band`` and ``bar_line_band`` are the dense reward terms of that splice.
    """
    r = config.reward
    key = ("policy_tables", config.max_cut_run, r.w_splice, r.w_off_bar)

    def compute() -> dict[str, np.ndarray]:
        n, width = analysis.n_beats, config.max_cut_run + 2
        i = np.repeat(np.arange(n)[:, None], width, axis=1)
        j = i + np.arange(width)[None, :]
        valid = j < n
        comp = splice_components(analysis, i, np.minimum(j, n - 1))
        q = np.where(valid, comp.quality, 0.0)
        on_bar = np.where(valid, comp.on_bar_line, 0.0)
        tables = {
            "features": compact_features(analysis),
            "beat_in_bar": analysis.beat_in_bar.astype(np.int64),
            "q_band": q.astype(np.float32),
            "on_bar_band": on_bar.astype(np.float32),
            "splice_band": np.where(valid, -r.w_splice * (1.0 - q), 0.0),
            "bar_line_band": np.where(valid, -r.w_off_bar * (1.0 - on_bar), 0.0),
        }
        return tables

    return analysis.derived(key, compute)


@dataclass(frozen=True)
class ObservationLayout:
    """Sizes of the observation's parts for one environment configuration."""

    lookback: int
    lookahead: int
    max_cut_run: int
    target_keep_share: float

    @classmethod
    def from_config(cls, config: "EnvConfig") -> "ObservationLayout":
        return cls(config.lookback, config.lookahead, config.max_cut_run, config.reward.target_keep_share)

    @property
    def window(self) -> int:
        return self.lookback + 1 + self.lookahead

    @property
    def n_resume(self) -> int:
        return self.max_cut_run + 1

    @property
    def dim(self) -> int:
        return self.window * N_WINDOW_FEATURES + 4 + 2 * self.n_resume + N_STATE

    def build(self, batch: "EditBatch") -> np.ndarray:
        """Observation of every slot of ``batch`` at its current beat, shape (n_slots, dim)."""
        bank = batch.bank
        n, bpb = batch.n, batch.bpb
        t = np.minimum(batch.t, n - 1)
        last = batch.last
        rows = np.arange(batch.n_slots)[:, None]
        offsets = np.arange(-self.lookback, self.lookahead + 1)[None, :]
        window = bank.features[bank.feat_offset[batch.song][:, None] + t[:, None] + offsets]
        band0 = bank.band_offset[batch.song]
        bib = bank.beat_in_bar[band0 + t]
        onehot = np.zeros((batch.n_slots, 4), dtype=np.float32)
        onehot[rows[:, 0], np.minimum(bib, 3)] = 1.0
        width = bank.q_band.shape[1]
        j = t[:, None] + np.arange(self.n_resume)[None, :]
        d = j - last[:, None]
        valid = (last[:, None] >= 0) & (d >= 1) & (d < width) & (j < n[:, None])
        band_rows = (band0 + np.maximum(last, 0))[:, None]
        d = np.clip(d, 0, width - 1)
        q = np.where(valid, bank.q_band[band_rows, d], 0.0)
        on_bar = np.where(valid, bank.on_bar_band[band_rows, d], 0.0)
        target = self.target_keep_share
        played = batch.played.astype(np.float64)
        four_bars = 4.0 * bpb
        prev = np.zeros((batch.n_slots, 3))
        prev[rows[:, 0], batch.prev_action] = 1.0
        state = np.stack(
            [
                played / np.maximum(t, 1) - target,
                np.clip((played - target * t) / four_bars, -2, 2),
                np.clip((played + (n - t) - target * n) / four_bars, -4, 4),
                np.minimum(batch.since_splice / 16.0, 1.0),
                batch.cut_run / max(self.max_cut_run, 1),
                batch.repeat_run / bpb,
                prev[:, 0],
                prev[:, 1],
                prev[:, 2],
                (last != t - 1).astype(np.float64),
                t / n,
                np.minimum((n - t) / 64.0, 4.0),
                ((bpb - bib) % bpb) / bpb,
            ],
            axis=1,
        )
        return np.concatenate(
            [window.reshape(batch.n_slots, -1), onehot, q, on_bar, state], axis=1, dtype=np.float32
        )

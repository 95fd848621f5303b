"""What the policy sees at each phrase, built for many slots at once.

The policy decides once per phrase (:mod:`rl_editor.audio.structure`): keep,
cut or repeat the whole phrase. The observation is one float32 vector:

1. ``window``: for each phrase from ``t - lookback`` to ``t + lookahead``, the
   phrase means of ``COMPACT_FEATURES`` (z-scored within the song, clipped to
   +-4) plus its place in the song's structure: starts a section, ends a
   section, how often its section's label was heard before (0, 1, 2+ as
   0/0.5/1), position within its section, and its duration relative to the
   mean phrase (zeros outside the song).
2. ``jumps`` (``n_jumps`` entries, twice): for ``k = 0 .. n_jumps - 1``, the
   dense splice cost of resuming playback at phrase ``t + k`` after the last
   played phrase (0 where that is the natural continuation, -4 where the jump
   is impossible or would end a cut no editor makes), and the share of the song that cutting phrases ``t .. t + k - 1``
   removes, over the share still to cut to reach the target (clipped to 0-2;
   without a target, four times the share removed).
3. ``state`` (14): whether a target length was asked for; the target (0
   without one); kept and decided shares of the song so far; the distance from
   the target so far and what is still to cut, in mean phrases (clipped);
   progress (phrases decided / phrases); phrases left / 32; current cut run /
   its limit; the previous action one-hot (3); whether a cut is in progress;
   splices so far / 8.

Without a target the policy sees no length goal, only what it kept so far: it
learns its own preferred length (the dense reward's ``target_keep_share`` in
iteration 1, the raters' through a learned reward later).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from rl_editor.audio.feature_layout import GROUP_SLICES, feature_index
from rl_editor.audio.song import SongAnalysis
from rl_editor.audio.structure import group_means, song_structure

if TYPE_CHECKING:  # pragma: no cover
    from rl_editor.policy.config import EnvConfig
    from rl_editor.policy.env import EditBatch

COMPACT_FEATURES: tuple[str, ...] = (
    "rms_relative_db",
    "rms_mean_db",
    "percussive_share",
    "onset_mean",
    "onset_max",
    "novelty",
    "repetition",
    "section_energy_rank",
    "band_low_db",
    "band_high_db",
    "spectral_centroid_khz",
    "spectral_flatness",
)
N_STRUCTURE_FEATURES = 5
N_UNIT_FEATURES = len(COMPACT_FEATURES) + 2 + N_STRUCTURE_FEATURES
N_STATE = 14
IMPOSSIBLE_JUMP = -4.0


def _zscore(x: np.ndarray) -> np.ndarray:
    z = (x - x.mean(axis=0)) / (x.std(axis=0) + 1e-6)
    return np.clip(z, -4.0, 4.0)


def _change_to_next(x: np.ndarray) -> np.ndarray:
    """1 - cosine similarity of each row with the next one (0 for the last row)."""
    unit = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-8)
    change = np.zeros(len(x))
    change[:-1] = 1.0 - np.einsum("ij,ij->i", unit[:-1], unit[1:])
    return change


def unit_features(analysis: SongAnalysis) -> np.ndarray:
    """Shape (n_phrases, N_UNIT_FEATURES) float32: the per-phrase part of the observation."""
    structure = song_structure(analysis)
    starts = structure.phrase_start_beats
    cols = np.stack([analysis.features[:, feature_index(name)].astype(np.float64) for name in COMPACT_FEATURES], axis=1)
    means = group_means(cols, starts)
    mfcc = group_means(analysis.features[:, GROUP_SLICES["mfcc_mean"]][:, 1:].astype(np.float64), starts)
    mfcc = (mfcc - mfcc.mean(axis=0)) / (mfcc.std(axis=0) + 1e-6)
    chroma = group_means(np.maximum(analysis.features[:, GROUP_SLICES["chroma_mean"]], 0.0), starts)
    changes = np.stack([_change_to_next(mfcc), _change_to_next(chroma)], axis=1)
    acoustic = _zscore(np.concatenate([means, changes], axis=1))

    section = structure.phrase_section()
    n_units = structure.n_phrases
    starts_section = np.r_[True, section[1:] != section[:-1]]
    ends_section = np.r_[section[1:] != section[:-1], True]
    labels = np.array(structure.section_labels)[section]
    seen_before = np.zeros(n_units)
    first_phrase_of = {}
    for k in range(n_units):
        if starts_section[k]:
            first_phrase_of[k] = sum(1 for s in range(section[k]) if structure.section_labels[s] == labels[k])
        seen_before[k] = first_phrase_of.get(k, seen_before[k - 1] if k else 0)
    position = np.zeros(n_units)
    for s in np.unique(section):
        members = np.flatnonzero(section == s)
        position[members] = np.arange(members.size) / max(members.size, 1)
    bounds = structure.phrase_bounds_beats
    seg = analysis.segment_bounds_s
    duration = seg[bounds[1:]] - seg[bounds[:-1]]
    relative_duration = np.clip(duration / max(duration.mean(), 1e-9), 0, 3)
    structural = np.stack(
        [starts_section, ends_section, np.minimum(seen_before, 2) / 2, position, relative_duration], axis=1
    ).astype(np.float64)
    return np.concatenate([acoustic, structural], axis=1).astype(np.float32)


def song_tables(analysis: SongAnalysis, config: EnvConfig) -> dict[str, np.ndarray]:
    """Per-song phrase tables the environment gathers from, cached on the analysis.

    ``jump_terms`` has shape (n_phrases, max_cut_phrases + 2, 3); entry ``[i, d]``
    holds the dense ``splice``, ``bar_line`` and ``section`` terms of playing
    phrase ``i + d`` right after phrase ``i`` (``d = 0``: repeating ``i``;
    ``d = 1``: the natural continuation, all 0; past the song's end, 0).
    ``editorial_cuts`` (shape (n_phrases, max_cut_phrases + 2)): entry ``[s, d]``
    says whether cutting ``d`` phrases from ``s`` on is offered: a cut an editor
    would make (:func:`rl_editor.audio.structure.phrase_cut_table`: a multiple of
    4 bars, or up to a section boundary) whose jump is among the
    ``config.resume_options`` cheapest of such cuts from ``s``
    (:func:`rl_editor.audio.jumps.splice_point_cost`; all of them when 0).
    """
    from rl_editor.policy.dense_reward import SPLICE_TERMS, splice_terms

    r = config.reward
    key = (
        "policy_tables",
        config.max_cut_phrases,
        config.resume_options,
        r.w_splice_base,
        r.w_splice,
        r.w_jump,
        r.w_off_bar,
        r.w_section_entry,
        r.w_section,
    )

    def compute() -> dict[str, np.ndarray]:
        structure = song_structure(analysis)
        bounds = structure.phrase_bounds_beats
        n_units, width = structure.n_phrases, config.max_cut_phrases + 2
        i = np.repeat(np.arange(n_units)[:, None], width, axis=1)
        j = i + np.arange(width)[None, :]
        valid = j < n_units
        from_beat = bounds[i + 1] - 1
        to_beat = bounds[np.minimum(j, n_units - 1)]
        terms = np.stack([splice_terms(analysis, from_beat, to_beat, r)[name] for name in SPLICE_TERMS], axis=2)
        terms[:, 1, :] = 0.0  # the natural continuation is no splice
        terms = np.where(valid[:, :, None], terms, 0.0)
        seg = analysis.segment_bounds_s
        share = (seg[bounds[1:]] - seg[bounds[:-1]]) / max(analysis.duration_seconds, 1e-9)
        return {
            "features": unit_features(analysis),
            "unit_share": share.astype(np.float64),
            "jump_terms": terms,
            "editorial_cuts": offered_cuts(analysis, config.max_cut_phrases, config.resume_options),
            "bounds": bounds.astype(np.int64),
        }

    return analysis.derived(key, compute)


def offered_cuts(analysis: SongAnalysis, max_phrases: int, resume_options: int) -> np.ndarray:
    """Which phrase-level cuts the policy may make (see :func:`song_tables`, ``editorial_cuts``).

    Returns
    -------
    ndarray of bool, shape (n_phrases, max_phrases + 2)
        ``[s, d]``: cutting phrases ``s .. s + d - 1`` is editorial and its jump
        (from the end of phrase ``s - 1`` to the start of phrase ``s + d``) is
        among the ``resume_options`` cheapest editorial ones from ``s`` (all when 0).
        A song too short to be edited in 4-bar phrases (:func:`~rl_editor.audio.structure.edited_in_phrases`),
        or without any editorial cut, is offered every run of whole phrases
        instead (its phrases are a bar or two long).
    """
    from rl_editor.audio.jumps import splice_point_cost
    from rl_editor.audio.structure import edited_in_phrases, phrase_cut_table

    structure = song_structure(analysis)
    editorial = phrase_cut_table(structure, max_phrases)
    if not edited_in_phrases(structure) or not editorial[1:].any():  # any whole phrases (phrase 0 stays)
        n, width = editorial.shape
        d = np.arange(width)[None, :]
        return (d >= 1) & (d <= max_phrases) & (np.arange(n)[:, None] + d < n)
    if resume_options <= 0:
        return editorial
    bounds = structure.phrase_bounds_beats
    n, width = editorial.shape
    s = np.arange(n)[:, None]
    resume = np.minimum(s + np.arange(width)[None, :], n - 1)
    cost = splice_point_cost(analysis, np.broadcast_to(np.maximum(bounds[s] - 1, 0), resume.shape), bounds[resume])
    cost = np.where(editorial, cost, np.inf)
    rank = np.argsort(np.argsort(cost, axis=1, kind="stable"), axis=1)
    offered: np.ndarray = editorial & (rank < resume_options)
    return offered


@dataclass(frozen=True)
class ObservationLayout:
    """Sizes of the observation's parts for one environment configuration."""

    lookback: int
    lookahead: int
    n_jumps: int
    max_cut_phrases: int

    @classmethod
    def from_config(cls, config: EnvConfig) -> ObservationLayout:
        return cls(config.lookback, config.lookahead, config.n_jump_options, config.max_cut_phrases)

    @property
    def window(self) -> int:
        return self.lookback + 1 + self.lookahead

    @property
    def dim(self) -> int:
        return self.window * N_UNIT_FEATURES + 2 * self.n_jumps + N_STATE

    def build(self, batch: EditBatch) -> np.ndarray:
        """Observation of every slot of ``batch`` at its current phrase, shape (n_slots, dim)."""
        bank = batch.bank
        n, t, last = batch.n, np.minimum(batch.t, batch.n - 1), batch.last
        slots = np.arange(batch.n_slots)
        offsets = np.arange(-self.lookback, self.lookahead + 1)[None, :]
        window = bank.features[bank.feat_offset[batch.song][:, None] + t[:, None] + offsets]

        row0 = bank.unit_offset[batch.song]
        width = bank.jump_cost.shape[1]
        k = np.arange(self.n_jumps)[None, :]
        j = t[:, None] + k
        d = j - last[:, None]
        valid = (last[:, None] >= 0) & (d >= 1) & (d < width) & (j < n[:, None])
        if batch.config.editorial_cuts:  # resuming there would end a cut no editor makes
            cut_from = np.minimum(last + 1, n - 1)[:, None]
            editorial = bank.editorial_cuts[row0[:, None] + cut_from, np.clip(d - 1, 0, width - 1)]
            valid &= (d == 1) | editorial
        cost = np.where(
            valid, bank.jump_cost[(row0 + np.maximum(last, 0))[:, None], np.clip(d, 0, width - 1)], IMPOSSIBLE_JUMP
        )
        padded0 = bank.padded_offset[batch.song] + t
        cum = np.cumsum(bank.unit_share_padded[padded0[:, None] + np.arange(self.n_jumps)[None, :]], axis=1)
        removed = np.concatenate([np.zeros((batch.n_slots, 1)), cum[:, :-1]], axis=1)
        unit = bank.mean_unit_share[batch.song]
        target = batch.target  # the slot's target, or the default length without one
        still_to_cut = batch.played + (1.0 - batch.elapsed) - target
        fill = np.where(
            batch.has_target[:, None],
            np.clip(removed / np.maximum(still_to_cut, unit)[:, None], 0.0, 2.0),
            np.minimum(4.0 * removed, 2.0),
        )

        prev = np.zeros((batch.n_slots, 3))
        prev[slots, batch.prev_action] = 1.0
        has_target = batch.has_target.astype(np.float64)
        state = np.stack(
            [
                has_target,
                np.where(batch.has_target, batch.target, 0.0),
                batch.played,
                batch.elapsed,
                has_target * np.clip((batch.played - target * batch.elapsed) / unit, -8, 8) / 4,
                has_target * np.clip(still_to_cut / unit, -8, 16) / 8,
                t / n,
                np.minimum((n - t) / 32.0, 2.0),
                batch.cut_run / max(self.max_cut_phrases, 1),
                prev[:, 0],
                prev[:, 1],
                prev[:, 2],
                (last != t - 1).astype(np.float64),
                np.minimum(batch.n_splices / 8.0, 2.0),
            ],
            axis=1,
        )
        return np.concatenate([window.reshape(batch.n_slots, -1), cost / 4.0, fill, state], axis=1, dtype=np.float32)

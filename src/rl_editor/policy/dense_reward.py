"""The policy's dense reward: what a good edit sounds like, without a rater.

An edit is scored by a sum of named terms (all weights in ``DenseRewardConfig``):

- ``splice``: ``-w_splice * (1 - quality)`` for every splice (jump in playback),
  quality from :func:`rl_editor.audio.splice.splice_components`.
- ``bar_line``: ``-w_off_bar`` for every splice that does not fall on a bar line
  (playback leaves just before a downbeat and lands on a downbeat).
- ``repeat``: ``-w_repeat`` for every repeated beat (repeats stutter; use them sparingly).
- ``length``: ``-w_length * |played_beats - target_keep_share * n_beats| / beats_per_bar``,
  i.e. per bar of distance from the target length. It is a terminal term; the
  environment pays it out as it accrues (potential-based shaping with the
  potential ``-w_length * |played_so_far - target * beats_so_far| / beats_per_bar``),
  so the per-step rewards of an episode add up to exactly this value.
- ``length_hit``: ``+w_length_hit`` when the kept share is within
  ``length_tolerance`` (relative) of the target (terminal).
- ``degenerate``: ``-w_degenerate`` for an edit that keeps everything (no cut at
  all) or keeps less than ``min_keep_share`` of the beats (terminal).

The keep share counts played beats over source beats (a repeated beat counts
twice); beats are close to equal length, so it tracks the duration ratio.
``score_edit`` scores a whole edit; the environment's per-step rewards sum to
its ``total`` (times ``dense_reward_scale``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from rl_editor.audio.song import SongAnalysis
from rl_editor.audio.splice import splice_components
from rl_editor.edit import CUT, REPEAT, splice_pairs, validate_actions

TERM_NAMES: tuple[str, ...] = ("splice", "bar_line", "repeat", "length", "length_hit", "degenerate")


@dataclass
class DenseRewardConfig:
    """Weights of the dense reward terms (see the module docstring).

    Attributes
    ----------
    target_keep_share : float
        Wanted edit length as a share of the original (0-1).
    w_splice : float
        Cost per splice of a completely unnatural join (scaled by ``1 - quality``).
    w_off_bar : float
        Extra cost per splice that is not on a bar line.
    w_repeat : float
        Cost per repeated beat.
    w_length : float
        Cost per bar of distance between the edit's length and the target.
    w_length_hit : float
        Bonus when the length is within ``length_tolerance`` of the target.
    length_tolerance : float
        Relative tolerance of ``length_hit`` (0.1 = within 10% of the target).
    w_degenerate : float
        Penalty for keeping everything or keeping less than ``min_keep_share``.
    min_keep_share : float
        Below this kept share an edit counts as degenerate.
    """

    target_keep_share: float = 0.75
    w_splice: float = 1.0
    w_off_bar: float = 1.0
    w_repeat: float = 0.3
    w_length: float = 0.5
    w_length_hit: float = 1.0
    length_tolerance: float = 0.1
    w_degenerate: float = 2.0
    min_keep_share: float = 0.4

    def to_json(self) -> dict:
        return asdict(self)


def splice_costs(
    analysis: SongAnalysis, from_beats: np.ndarray, to_beats: np.ndarray, config: DenseRewardConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Per-splice ``(splice, bar_line)`` reward terms (both <= 0), arrays of the inputs' shape."""
    comp = splice_components(analysis, from_beats, to_beats)
    splice = -config.w_splice * (1.0 - comp.quality)
    bar_line = -config.w_off_bar * (1.0 - comp.on_bar_line)
    return splice, bar_line


def length_potential(played_beats: np.ndarray, elapsed_beats: np.ndarray, beats_per_bar: np.ndarray,
                     config: DenseRewardConfig) -> np.ndarray:
    """Shaping potential of the length term after ``elapsed_beats`` decisions (0 at the start)."""
    gap = np.abs(played_beats - config.target_keep_share * elapsed_beats)
    return -config.w_length * gap / beats_per_bar


def terminal_terms(keep_share: np.ndarray, n_cuts: np.ndarray, config: DenseRewardConfig) -> dict[str, np.ndarray]:
    """``length_hit`` and ``degenerate`` terms of finished edits (vectorised)."""
    target = config.target_keep_share
    hit = np.abs(keep_share - target) <= config.length_tolerance * target
    degenerate = (n_cuts == 0) | (keep_share < config.min_keep_share)
    return {
        "length_hit": config.w_length_hit * hit.astype(np.float64),
        "degenerate": -config.w_degenerate * degenerate.astype(np.float64),
    }


def score_edit(
    analysis: SongAnalysis, actions: np.ndarray, config: DenseRewardConfig | None = None
) -> dict[str, float]:
    """Dense reward of a whole edit, term by term.

    Parameters
    ----------
    analysis : SongAnalysis
        The song edited.
    actions : array of int, shape (n_beats,)
        0 keep, 1 cut, 2 repeat per source beat.
    config : DenseRewardConfig, optional
        Weights; the defaults when omitted.

    Returns
    -------
    dict of str to float
        One entry per name in ``TERM_NAMES`` and ``"total"`` (their sum).

    Examples
    --------
    >>> score_edit(analysis, np.zeros(analysis.n_beats))["degenerate"]  # keeps everything
    -2.0
    """
    config = config or DenseRewardConfig()
    actions = validate_actions(actions, analysis.n_beats)
    pairs = splice_pairs(actions)
    splice, bar_line = splice_costs(analysis, pairs[:, 0], pairs[:, 1], config)
    n = analysis.n_beats
    played = float(np.sum(actions != CUT) + np.sum(actions == REPEAT))
    keep_share = played / max(n, 1)
    terms = {
        "splice": float(np.sum(splice)),
        "bar_line": float(np.sum(bar_line)),
        "repeat": -config.w_repeat * float(np.sum(actions == REPEAT)),
        "length": float(length_potential(np.array(played), np.array(float(n)),
                                         np.array(float(analysis.beats_per_bar)), config)),
    }
    ends = terminal_terms(np.array(keep_share), np.array(np.sum(actions == CUT)), config)
    terms.update({k: float(v) for k, v in ends.items()})
    terms["total"] = float(sum(terms[k] for k in TERM_NAMES))
    return terms


def edit_stats(analysis: SongAnalysis, actions: np.ndarray) -> dict[str, float]:
    """Descriptive figures of an edit (not reward terms).

    Returns ``keep_share`` (played / source beats), ``duration_share`` (seconds),
    ``cut_share``, ``repeat_share``, ``n_splices``, ``bar_line_share`` (share of
    splices on bar lines, NaN without splices) and ``mean_splice_quality``.
    """
    actions = validate_actions(actions, analysis.n_beats)
    pairs = splice_pairs(actions)
    comp = splice_components(analysis, pairs[:, 0], pairs[:, 1])
    played = np.sum(actions != CUT) + np.sum(actions == REPEAT)
    plays = np.where(actions == CUT, 0, np.where(actions == REPEAT, 2, 1))
    durations = analysis.beat_durations_s
    return {
        "keep_share": float(played / max(analysis.n_beats, 1)),
        "duration_share": float(np.sum(plays * durations) / max(analysis.duration_seconds, 1e-9)),
        "cut_share": float(np.mean(actions == CUT)),
        "repeat_share": float(np.mean(actions == REPEAT)),
        "n_splices": float(len(pairs)),
        "bar_line_share": float(np.mean(comp.on_bar_line)) if len(pairs) else float("nan"),
        "mean_splice_quality": float(np.mean(comp.quality)) if len(pairs) else float("nan"),
    }

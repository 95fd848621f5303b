"""The policy's dense reward: what a good edit sounds like, without a rater.

An edit is scored by a sum of named terms (all weights in ``DenseRewardConfig``).
Lengths are shares of the song's duration (seconds kept over seconds in the
song); ``unit`` below is the mean phrase's share of the song, so length errors
are counted in phrases whatever the song's length.

- ``splice``: ``-(w_splice_base + w_splice * (1 - quality) + w_jump * jump_cost)``
  for every splice (jump in playback), quality from
  :func:`rl_editor.audio.splice.splice_components` (the beats on each side),
  jump cost from :func:`rl_editor.audio.jumps.jump_cost` (the bar after the
  entry against the bar that would have followed, section label and phrase
  position: an editor's jump between points that sound alike).
  The fixed part makes an edit with a few long cuts better than one with many
  short ones (Mehrabi et al., 2014: listeners rate edits made of many short
  sections lower).
- ``bar_line``: ``-w_off_bar`` for every splice that does not fall on a bar line.
- ``section``: ``+w_section_entry`` for every splice that lands on the start of
  a section (the edit jumps to a verse or chorus, as editors do), plus
  ``w_section`` more when it also leaves at the end of one (whole sections removed).
- ``repeat``: ``-w_repeat`` for every repeated run (a run of repeat actions is
  played twice).
- ``length``: ``-w_length * |keep_share - target| / unit``. The environment
  pays it out as it accrues (potential-based shaping), so an episode's
  per-step rewards add up to exactly this value.
- ``length_hit``: ``+w_length_hit`` when the kept share is within
  ``length_tolerance`` (relative) of the target.
- ``degenerate``: ``-w_degenerate`` for an edit that keeps (nearly) everything
  when asked for less than 90%, or keeps less than ``min_keep_share``.

``score_edit`` scores any per-beat edit; the environment's per-step rewards sum
to its ``total``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rl_editor.audio.jumps import jump_cost
from rl_editor.audio.song import SongAnalysis
from rl_editor.audio.splice import splice_components
from rl_editor.audio.structure import edited_in_phrases, song_structure
from rl_editor.edit import CUT, REPEAT, splice_pairs, validate_actions

SPLICE_TERMS: tuple[str, ...] = ("splice", "bar_line", "section")
QUALITY_TERMS: tuple[str, ...] = SPLICE_TERMS + ("repeat",)
LENGTH_TERMS: tuple[str, ...] = ("length", "length_hit")
GUARD_TERMS: tuple[str, ...] = ("degenerate",)
TERM_NAMES: tuple[str, ...] = QUALITY_TERMS + LENGTH_TERMS + GUARD_TERMS


@dataclass
class DenseRewardConfig:
    """Weights of the dense reward terms (see the module docstring).

    Attributes
    ----------
    target_keep_share : float
        Edit length (share of the song's duration) the policy aims for when no
        target is asked for.
    w_splice_base, w_splice : float
        Cost per splice, and extra cost of a completely unnatural join (scaled by ``1 - quality``).
    w_jump : float
        Extra cost of a jump into music unlike what would have followed (scaled by its jump cost, 0-1);
        only on songs edited in phrases (:func:`~rl_editor.audio.structure.edited_in_phrases`).
    w_off_bar : float
        Extra cost per splice that is not on a bar line.
    w_section_entry : float
        Bonus per splice that lands on the start of a section.
    w_section : float
        Further bonus per splice that removes whole sections.
    w_repeat : float
        Cost per repeated run.
    w_length : float
        Cost per phrase of distance between the edit's length and the target.
    w_length_hit : float
        Bonus when the length is within ``length_tolerance`` of the target.
    length_tolerance : float
        Relative tolerance of ``length_hit`` (0.05 = within 5% of the target).
    w_degenerate : float
        Penalty for keeping everything or keeping less than ``min_keep_share``.
    min_keep_share : float
        Below this kept share an edit counts as degenerate.
    """

    target_keep_share: float = 0.75
    w_splice_base: float = 1.0
    w_splice: float = 2.0
    w_jump: float = 2.0
    w_off_bar: float = 0.5
    w_section_entry: float = 0.3
    w_section: float = 0.3
    w_repeat: float = 1.0
    w_length: float = 1.0
    w_length_hit: float = 2.0
    length_tolerance: float = 0.05
    w_degenerate: float = 10.0
    min_keep_share: float = 0.2


def section_end_and_start(analysis: SongAnalysis) -> tuple[np.ndarray, np.ndarray]:
    """Bool arrays (n_beats,): beats that end a section, and beats that start one."""
    structure = song_structure(analysis)
    starts = np.zeros(analysis.n_beats, dtype=bool)
    starts[structure.section_start_beats] = True
    ends = np.zeros(analysis.n_beats, dtype=bool)
    ends[structure.section_start_beats[1:] - 1] = True
    ends[-1] = True
    return ends, starts


def splice_terms(
    analysis: SongAnalysis, from_beats: np.ndarray, to_beats: np.ndarray, config: DenseRewardConfig
) -> dict[str, np.ndarray]:
    """Per-splice ``splice``, ``bar_line`` and ``section`` terms, arrays of the inputs' shape."""
    from_beats = np.asarray(from_beats, dtype=np.int64)
    to_beats = np.asarray(to_beats, dtype=np.int64)
    comp = splice_components(analysis, from_beats, to_beats)
    # an editor's jump between like-sounding points is a phrase-level notion: songs cut bar by bar skip it
    w_jump = config.w_jump if edited_in_phrases(song_structure(analysis)) else 0.0
    cost = jump_cost(analysis, from_beats, to_beats) if w_jump else np.zeros(from_beats.shape)
    ends, starts = section_end_and_start(analysis)
    jumps = to_beats != from_beats + 1
    lands_on_section = starts[to_beats] & jumps
    whole_sections = ends[from_beats] & lands_on_section & (to_beats > from_beats + 1)
    return {
        "splice": -(config.w_splice_base + config.w_splice * (1.0 - comp.quality) + w_jump * cost),
        "bar_line": -config.w_off_bar * (1.0 - comp.on_bar_line),
        "section": config.w_section_entry * lands_on_section + config.w_section * whole_sections,
    }


def mean_phrase_share(analysis: SongAnalysis) -> float:
    """The mean phrase's share of the song's duration (the unit of the length term)."""
    return 1.0 / max(song_structure(analysis).n_phrases, 1)


def length_potential(
    played_share: np.ndarray, elapsed_share: np.ndarray, target: np.ndarray, unit_share: np.ndarray, w_length: float
) -> np.ndarray:
    """Shaping potential of the length term after deciding ``elapsed_share`` of the song (0 at the start)."""
    return -w_length * np.abs(played_share - target * elapsed_share) / unit_share


def terminal_terms(keep_share: np.ndarray, target: np.ndarray, config: DenseRewardConfig) -> dict[str, np.ndarray]:
    """``length_hit`` and ``degenerate`` terms of finished edits (vectorised)."""
    hit = np.abs(keep_share - target) <= config.length_tolerance * target
    keeps_all = (keep_share > 0.99) & (target < 0.9)
    degenerate = keeps_all | (keep_share < config.min_keep_share)
    return {
        "length_hit": config.w_length_hit * hit.astype(np.float64),
        "degenerate": -config.w_degenerate * degenerate.astype(np.float64),
    }


def duration_keep_share(analysis: SongAnalysis, actions: np.ndarray) -> float:
    """Seconds the edit plays over seconds in the song."""
    plays = np.where(actions == CUT, 0, np.where(actions == REPEAT, 2, 1))
    return float(np.sum(plays * analysis.beat_durations_s) / max(analysis.duration_seconds, 1e-9))


def repeated_runs(actions: np.ndarray) -> int:
    """How many maximal runs of repeat actions the edit has."""
    rep = np.asarray(actions) == REPEAT
    return int(np.sum(rep[1:] & ~rep[:-1]) + (rep[0] if rep.size else 0))


def score_edit(
    analysis: SongAnalysis,
    actions: np.ndarray,
    config: DenseRewardConfig | None = None,
    target: float | None = None,
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
    target : float, optional
        Wanted length as a share of the song; ``config.target_keep_share`` when omitted.

    Returns
    -------
    dict of str to float
        One entry per name in ``TERM_NAMES`` and ``"total"`` (their sum).
    """
    config = config or DenseRewardConfig()
    target = config.target_keep_share if target is None else float(target)
    actions = validate_actions(actions, analysis.n_beats)
    pairs = splice_pairs(actions)
    per_splice = splice_terms(analysis, pairs[:, 0], pairs[:, 1], config)
    keep_share = duration_keep_share(analysis, actions)
    terms = {name: float(np.sum(per_splice[name])) for name in SPLICE_TERMS}
    terms["repeat"] = -config.w_repeat * repeated_runs(actions)
    terms["length"] = float(
        length_potential(
            np.array(keep_share),
            np.array(1.0),
            np.array(target),
            np.array(mean_phrase_share(analysis)),
            config.w_length,
        )
    )
    ends = terminal_terms(np.array(keep_share), np.array(target), config)
    terms.update({k: float(v) for k, v in ends.items()})
    terms["total"] = float(sum(terms[k] for k in TERM_NAMES))
    return terms


def edit_stats(analysis: SongAnalysis, actions: np.ndarray) -> dict[str, float]:
    """Descriptive figures of an edit (not reward terms).

    Returns ``keep_share`` (played / source beats), ``duration_share`` (seconds),
    ``cut_share``, ``repeat_share``, ``n_splices``, ``splices_per_minute`` (of
    output), ``bar_line_share`` (share of splices on bar lines, NaN without
    splices) and ``mean_splice_quality``.
    """
    actions = validate_actions(actions, analysis.n_beats)
    pairs = splice_pairs(actions)
    comp = splice_components(analysis, pairs[:, 0], pairs[:, 1])
    played = np.sum(actions != CUT) + np.sum(actions == REPEAT)
    duration_share = duration_keep_share(analysis, actions)
    output_minutes = duration_share * analysis.duration_seconds / 60.0
    return {
        "keep_share": float(played / max(analysis.n_beats, 1)),
        "duration_share": duration_share,
        "cut_share": float(np.mean(actions == CUT)),
        "repeat_share": float(np.mean(actions == REPEAT)),
        "n_splices": float(len(pairs)),
        "splices_per_minute": float(len(pairs) / max(output_minutes, 1e-9)),
        "bar_line_share": float(np.mean(comp.on_bar_line)) if len(pairs) else float("nan"),
        "mean_splice_quality": float(np.mean(comp.quality)) if len(pairs) else float("nan"),
    }

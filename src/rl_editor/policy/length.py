"""Requested edit lengths: parsing them, and trimming an edit onto one.

The policy cuts whole phrases, so its edits land within about one phrase of
the requested length. :func:`fit_to_target` closes the rest the way an editor
trims: it moves the ends of existing cuts by one or four whole bars (never
adding a splice; two cuts that meet merge into one) until the edit is within
the tolerance. A move may not add a cut that an editor would not make (one
that neither spans a multiple of 4 bars nor ends on a section boundary), so
the policy's editorial cuts stay editorial; among the others it takes the move
that gets closest to the target, or, among moves that reach it, the one that
leaves most cuts editorial. Only when no such trim reaches the tolerance (a
short song has few 4-bar spans) do ragged moves finish the job: the requested
length wins over the shape of the cut.
"""

from __future__ import annotations

import math
import re
import warnings

import numpy as np

from rl_editor.audio.song import SongAnalysis
from rl_editor.audio.structure import (
    EDITORIAL_CUT_BARS,
    SongStructure,
    cut_runs,
    edited_in_phrases,
    ragged_cuts,
    song_structure,
)
from rl_editor.edit import CUT, KEEP
from rl_editor.errors import RlEditorError
from rl_editor.policy.dense_reward import duration_keep_share
from rl_editor.policy.errors import PolicyError

LENGTH_TOLERANCE = 0.05


LENGTH_HELP = "a share of the song up to 1 (0.55), a time m:ss (3:30) or seconds with a unit (210s)"


def format_time(seconds: float) -> str:
    """``m:ss`` of a duration in seconds (``3:05``)."""
    whole = int(round(seconds))
    return f"{whole // 60}:{whole % 60:02d}"


def _seconds_of(text: str) -> float | None:
    """Seconds written as ``m:ss`` (``3:30``, ``3:05.5``), ``210s`` or ``None`` when not a time."""
    match = re.fullmatch(r"(\d+):([0-5]\d(?:\.\d+)?)", text)
    if match:
        return 60 * int(match.group(1)) + float(match.group(2))
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*s", text)
    return float(match.group(1)) if match else None


def target_share(
    length: float | str, duration_seconds: float, *, what: str = "length", error: type[RlEditorError] = PolicyError
) -> float:
    """The share of the song (0-1] that a requested edit length asks for.

    Parameters
    ----------
    length : float or str
        A share of the song (``0.55``: a number up to 1), or a time: ``"m:ss"``
        (``"3:30"``) or seconds with a unit (``"210s"``). A bare number above 1
        is refused rather than guessed at (``1.5`` could mean 1.5 s or 150%).
    duration_seconds : float
        The song's length in seconds.
    what : str
        Names the length in error messages (``"--length"`` for a CLI flag).
    error : RlEditorError subclass
        Raised for a length that is not a share or a time, is 0 or less, is a bare
        number above 1, or is longer than the song.

    Examples
    --------
    >>> target_share("3:30", 300.0)
    0.7
    >>> target_share("210s", 300.0)
    0.7
    >>> target_share(0.55, 300.0)
    0.55
    """
    text = str(length)
    cleaned = text.strip().lower()
    seconds = _seconds_of(cleaned)
    if seconds is None:
        try:
            number = float(cleaned)
        except ValueError:
            raise error(f"{what} {text!r}: not a length; give {LENGTH_HELP}") from None
        if not math.isfinite(number):
            raise error(f"{what} {text!r}: not a length; give {LENGTH_HELP}")
        if number <= 0:
            raise error(f"{what} {text}: must be more than 0; give {LENGTH_HELP}")
        if number > 1:
            raise error(
                f"{what} {text}: a share of the song is at most 1; for a time write {cleaned}s or {format_time(number)}"
            )
        return number
    if seconds <= 0:
        raise error(f"{what} {text}: must be more than 0; give {LENGTH_HELP}")
    if seconds > duration_seconds + 1e-6:
        raise error(f"{what} {text}: {format_time(seconds)} is longer than the song ({format_time(duration_seconds)})")
    return seconds / duration_seconds


def outside_trained_range(share: float, trained_range: tuple[float, float]) -> str | None:
    """A one-line warning when a target share lies outside the range the policy was trained on, else None.

    Examples
    --------
    >>> outside_trained_range(0.02, (0.3, 0.95))
    'a target of 2% of the song is below the 30-95% the policy was trained on; the edit may miss it'
    """
    low, high = trained_range
    if low - 1e-9 <= share <= high + 1e-9:
        return None
    side = "below" if share < low else "above"
    return (
        f"a target of {share:.0%} of the song is {side} the {low * 100:.0f}-{high:.0%} the policy was "
        "trained on; the edit may miss it"
    )


def _bar_moves(actions: np.ndarray, bars: np.ndarray, step: int = 1) -> list[np.ndarray]:
    """Edits that move one end of one cut by ``step`` bars (first and last beat kept).

    A cut that grows over a repeat drops the repeat; one that grows into the next
    cut merges with it (one splice fewer).
    """
    n = actions.size
    moves = []
    for start, end in cut_runs(actions):
        earlier, later_start = bars[bars < start], bars[(bars > start) & (bars < end)]
        if earlier.size >= step and earlier[-step] > 0:
            moves.append((earlier[-step], start, CUT))  # the cut starts earlier
        if later_start.size >= step:
            moves.append((start, later_start[step - 1], KEEP))  # the cut starts later
        after = bars[bars > end]
        stop = min(after[step - 1] if after.size >= step else n - 1, n - 1)
        if stop > end:
            moves.append((end, stop, CUT))  # the cut ends later
        if later_start.size >= step:
            moves.append((later_start[-step], end, KEEP))  # the cut ends earlier
    out = []
    for lo, hi, action in moves:
        candidate = actions.copy()
        candidate[lo:hi] = action
        candidate[0], candidate[-1] = actions[0], actions[-1]
        out.append(candidate)
    return out


def fit_to_target(
    analysis: SongAnalysis, actions: np.ndarray, target: float, tolerance: float = LENGTH_TOLERANCE, max_moves: int = 64
) -> np.ndarray:
    """Trim an edit's cuts by whole bars until its length is within ``tolerance`` of ``target``.

    Parameters
    ----------
    analysis : SongAnalysis
    actions : array of int, shape (n_beats,)
    target : float
        Wanted length as a share of the song's duration.
    tolerance : float
        Relative tolerance (0.05 = within 5% of the target).
    max_moves : int
        Most bar moves made.

    Returns
    -------
    ndarray of int8
        The trimmed actions (the input when it already fits, or when no move helps).
    """
    structure = song_structure(analysis)
    best = _trim(
        analysis, structure, np.asarray(actions, dtype=np.int8).copy(), target, tolerance, max_moves, editorial=True
    )
    if abs(duration_keep_share(analysis, best) - target) > tolerance * target:
        # no editorial trim reaches the length: the length wins (short songs have few 4-bar spans)
        best = _trim(analysis, structure, best, target, tolerance, max_moves, editorial=False)
    return best


def _trim(
    analysis: SongAnalysis,
    structure: SongStructure,
    best: np.ndarray,
    target: float,
    tolerance: float,
    max_moves: int,
    *,
    editorial: bool,
) -> np.ndarray:
    """Greedy bar moves of :func:`fit_to_target`; with ``editorial``, none adds a ragged cut."""
    error = abs(duration_keep_share(analysis, best) - target)
    ragged = ragged_cuts(structure, best) if editorial else best.size
    for _ in range(max_moves):
        if error <= tolerance * target:
            break
        candidates = [c for step in (1, EDITORIAL_CUT_BARS) for c in _bar_moves(best, structure.bar_start_beats, step)]
        counts = [ragged_cuts(structure, c) for c in candidates]
        allowed = [k for k, bad in enumerate(counts) if bad <= ragged]  # no cut an editor would not make
        if not allowed:
            break
        errors = np.array([abs(duration_keep_share(analysis, candidates[k]) - target) for k in allowed])
        fits = np.flatnonzero(errors <= tolerance * target)
        if fits.size:  # among moves that reach the target, keep the most cuts editorial
            pick = int(min(fits, key=lambda i: (counts[allowed[i]], errors[i])))
        else:
            pick = int(np.argmin(errors))
        if errors[pick] >= error:
            break
        best, error = candidates[allowed[pick]], float(errors[pick])
        if editorial:
            ragged = counts[allowed[pick]]
    return best


def slide_cuts_to_smooth_seams(analysis: SongAnalysis, actions: np.ndarray, max_slide_bars: int = 8) -> np.ndarray:
    """Move each cut by up to ``max_slide_bars`` whole bars either way to where its seam is smoothest.

    A cut keeps its number of bars (so a multiple of 4 bars stays one, and the
    length barely changes); it slides only over kept beats, never over the first
    or last beat, and a cut that is editorial only because it ends on a section
    boundary moves only to another such end. Among the positions allowed, the
    one with the lowest :func:`rl_editor.audio.jumps.splice_point_cost` wins (the
    cut's own position on ties): an editor's splice between points that sound alike.

    Parameters
    ----------
    analysis : SongAnalysis
    actions : array of int, shape (n_beats,)
    max_slide_bars : int

    Returns
    -------
    ndarray of int8
    """
    from rl_editor.audio.jumps import splice_point_cost

    out = np.asarray(actions, dtype=np.int8).copy()
    structure = song_structure(analysis)
    if not edited_in_phrases(structure):
        return out  # a short song's cuts are bar-level already; a 4-bar slide would move them across it
    bars = np.append(structure.bar_start_beats, analysis.n_beats)
    sections = set(structure.section_bounds_beats.tolist())
    for start, end in cut_runs(out):
        first, last = np.searchsorted(bars, start), np.searchsorted(bars, end)
        if bars[first] != start or bars[last] != end:
            continue  # not on bar lines: leave it
        four_bars = (last - first) % EDITORIAL_CUT_BARS == 0
        without = out.copy()
        without[start:end] = KEEP
        slides = []  # (|k|, a, b) of each allowed position
        for k in range(-max_slide_bars, max_slide_bars + 1):
            lo, hi = first + k, last + k
            if lo < 1 or hi >= len(bars) - 1 or bars[lo] < 1 or bars[hi] > analysis.n_beats - 1:
                continue
            a, b = int(bars[lo]), int(bars[hi])
            if np.any(without[a - 1 : b] != KEEP) or without[b] == CUT:
                continue
            if not four_bars and b not in sections:
                continue
            slides.append((abs(k), a, b))
        if not slides:
            continue
        _, a_all, b_all = np.array(slides).T
        costs = splice_point_cost(analysis, a_all - 1, b_all)  # every allowed position at once
        _, _, a, b = min((float(c), *slide) for c, slide in zip(costs, slides))
        out = without
        out[a:b] = CUT
    return out


def warn_if_far_from_target(
    analysis: SongAnalysis, actions: np.ndarray, target: float, tolerance: float = LENGTH_TOLERANCE
) -> bool:
    """Warn (``warnings.warn``) when an edit misses its target by more than ``tolerance``; True if it did."""
    share = duration_keep_share(analysis, actions)
    if abs(share - target) <= tolerance * target:
        return False
    warnings.warn(
        f"{analysis.song_id}: the closest edit found keeps {share:.0%} of the song (asked for {target:.0%})",
        stacklevel=3,
    )
    return True


__all__ = [
    "LENGTH_HELP",
    "LENGTH_TOLERANCE",
    "fit_to_target",
    "format_time",
    "outside_trained_range",
    "slide_cuts_to_smooth_seams",
    "target_share",
    "warn_if_far_from_target",
]

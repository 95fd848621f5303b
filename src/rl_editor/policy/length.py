"""Requested edit lengths: parsing them, and trimming an edit onto one.

The policy cuts whole phrases, so its edits land within about one phrase of
the requested length. :func:`fit_to_target` closes the rest the way an editor
trims: it moves the ends of existing cuts by whole bars (never adding a
splice; two cuts that meet merge into one) until the edit is within the tolerance, choosing at each step the move
that gets closest to the target, or, among moves that reach it, the one that
leaves most cuts spanning 4-bar multiples or ending on a section boundary.
"""

from __future__ import annotations

import warnings

import numpy as np

from rl_editor.audio.song import SongAnalysis
from rl_editor.audio.structure import song_structure
from rl_editor.edit import CUT, KEEP, REPEAT
from rl_editor.policy.env import PolicyError

LENGTH_TOLERANCE = 0.05


def target_share(length: float | str, duration_seconds: float) -> float:
    """A wanted edit length as a share of the song.

    Parameters
    ----------
    length : float or str
        A share of the song (``0.55``), seconds (``"210"``, ``"210s"``) or a
        time (``"3:30"``). Numbers up to 1 are shares, larger ones seconds.
    duration_seconds : float
        The song's duration.

    Raises
    ------
    PolicyError
        Not a length, 0 or less, or longer than the song.

    Examples
    --------
    >>> target_share("3:30", 300.0)
    0.7
    >>> target_share(0.55, 300.0)
    0.55
    """
    text = str(length).strip().lower()
    try:
        if ":" in text:
            minutes, seconds = text.split(":", 1)
            value, as_seconds = 60.0 * float(minutes) + float(seconds), True
        else:
            value = float(text.rstrip("s"))
            as_seconds = text.endswith("s") or value > 1.0
    except ValueError:
        raise PolicyError(f"length {length!r}: give a share of the song (0.55), seconds (210) or a time (3:30)") from None
    if not np.isfinite(value) or value <= 0:
        raise PolicyError(f"length {length!r} must be above 0")
    if as_seconds:
        if value > duration_seconds + 1e-6:
            raise PolicyError(f"length {length!r} ({value:.0f} s) is longer than the song ({duration_seconds:.0f} s)")
        return value / duration_seconds
    return value


def played_share(analysis: SongAnalysis, actions: np.ndarray) -> float:
    """Seconds an edit plays over seconds in the song."""
    plays = np.where(actions == CUT, 0, np.where(actions == REPEAT, 2, 1))
    return float(np.sum(plays * analysis.beat_durations_s) / max(analysis.duration_seconds, 1e-9))


def _cut_runs(actions: np.ndarray) -> np.ndarray:
    cut = np.concatenate([[False], actions == CUT, [False]])
    edges = np.flatnonzero(cut[1:] != cut[:-1])
    return edges.reshape(-1, 2)  # [start, end) per run


def _editorial_cuts(actions: np.ndarray, structure) -> float:
    from rl_editor.audio.structure import cut_alignment

    share = cut_alignment(structure, actions)["four_bar_or_section_share"]
    return 1.0 if np.isnan(share) else share


def _bar_moves(actions: np.ndarray, bars: np.ndarray) -> list[np.ndarray]:
    """Edits that move one end of one cut by one bar (first and last beat kept).

    A cut that grows over a repeat drops the repeat; one that grows into the next
    cut merges with it (one splice fewer).
    """
    n = actions.size
    moves = []
    for start, end in _cut_runs(actions):
        earlier, later_start = bars[bars < start], bars[(bars > start) & (bars < end)]
        if earlier.size and earlier[-1] > 0:
            moves.append((earlier[-1], start, CUT))  # the cut starts a bar earlier
        if later_start.size:
            moves.append((start, later_start[0], KEEP))  # the cut starts a bar later
        after = bars[bars > end]
        stop = min(after[0] if after.size else n - 1, n - 1)
        if stop > end:
            moves.append((end, stop, CUT))  # the cut ends a bar later
        if later_start.size:
            moves.append((later_start[-1], end, KEEP))  # the cut ends a bar earlier
    out = []
    for lo, hi, action in moves:
        candidate = actions.copy()
        candidate[lo:hi] = action
        candidate[0], candidate[-1] = actions[0], actions[-1]
        out.append(candidate)
    return out


def fit_to_target(analysis: SongAnalysis, actions: np.ndarray, target: float,
                  tolerance: float = LENGTH_TOLERANCE, max_moves: int = 64) -> np.ndarray:
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
    best = np.asarray(actions, dtype=np.int8).copy()
    structure = song_structure(analysis)
    error = abs(played_share(analysis, best) - target)
    for _ in range(max_moves):
        if error <= tolerance * target:
            break
        candidates = _bar_moves(best, structure.bar_start_beats)
        if not candidates:
            break
        errors = np.array([abs(played_share(analysis, c) - target) for c in candidates])
        fits = np.flatnonzero(errors <= tolerance * target)
        if fits.size:  # among moves that reach the target, keep cuts on 4-bar multiples or section ends
            k = int(max(fits, key=lambda i: (_editorial_cuts(candidates[i], structure), -errors[i])))
        else:
            k = int(np.argmin(errors))
        if errors[k] >= error:
            break
        best, error = candidates[k], float(errors[k])
    return best


def warn_if_far_from_target(analysis: SongAnalysis, actions: np.ndarray, target: float,
                            tolerance: float = LENGTH_TOLERANCE) -> bool:
    """Warn (``warnings.warn``) when an edit misses its target by more than ``tolerance``; True if it did."""
    share = played_share(analysis, actions)
    if abs(share - target) <= tolerance * target:
        return False
    warnings.warn(f"{analysis.song_id}: the closest edit found keeps {share:.0%} of the song "
                  f"(asked for {target:.0%})", stacklevel=3)
    return True


__all__ = ["LENGTH_TOLERANCE", "fit_to_target", "played_share", "target_share", "warn_if_far_from_target"]

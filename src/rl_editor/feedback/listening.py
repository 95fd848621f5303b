"""Must-listen: what a rater has to hear of each version before a judgment counts.

Modelled on webMUSHRA's ``mustPlayback``. A version of a task (edit A, edit B,
or the one edit of a rating task) is heard enough when the rater has played
either every region where it differs from the other edit, or ``min_seconds``
of it (``min_seconds`` is the campaign's or store's setting, capped at the
version's length). The rater page tracks which stretches of each version's
audio were played and sends the seconds heard per version with the judgment
(a :class:`rl_editor.preferences.Listening`); the server checks those seconds against the same
:class:`ListeningRequirement`: hearing every region means having heard at least
:data:`REGION_SHARE` of their total length.

A differing region is a run of source beats that the two edits play a
different number of times (0, 1 or 2), in each edit's own time, padded by
:data:`REGION_PAD_S` on both sides, so a cut (which has no length in the edit
that made it) is heard as the splice and a little either side of it.

Example
-------
>>> import numpy as np
>>> bounds = np.arange(9, dtype=float)            # eight one-second beats
>>> regions = differing_regions_s([0, 1, 2, 3, 4, 5, 6, 7], [0, 1, 4, 5, 6, 7], bounds)
>>> regions["a"], regions["b"]
([[1.0, 5.0]], [[1.0, 3.0]])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rl_editor.preferences import Listening

REGION_PAD_S = 1.0
REGION_SHARE = 0.9  # share of the regions' total length that counts as having heard them all
TOLERANCE_S = 0.25  # slack for the page's sampling of what was played
DEFAULT_MIN_SECONDS = 20.0


@dataclass(frozen=True)
class ListeningRequirement:
    """What one version must have had played: ``min_seconds`` of it, or all of ``regions_s``.

    Attributes
    ----------
    min_seconds : float
        Seconds of the version to hear (already capped at its length; to the millisecond, as the page is told).
    regions_s : list of [start, end]
        Where it differs from the other edit, in its own time (seconds); empty for ratings.
    """

    min_seconds: float
    regions_s: list[list[float]] = field(default_factory=list)

    @property
    def regions_total_s(self) -> float:
        return float(sum(end - start for start, end in self.regions_s))

    @property
    def needed_s(self) -> float:
        """The fewest seconds heard that can satisfy the requirement."""
        if self.regions_s:
            return min(self.min_seconds, REGION_SHARE * self.regions_total_s)
        return self.min_seconds

    def is_met(self, heard_s: float | None) -> bool:
        """Whether ``heard_s`` seconds played can meet it (``None``: nothing reported)."""
        if self.needed_s <= 0:
            return True
        return heard_s is not None and heard_s + TOLERANCE_S >= self.needed_s


def edit_timeline_s(beat_sequence: Sequence[int] | np.ndarray, bounds_s: np.ndarray) -> np.ndarray:
    """Shape (len(sequence) + 1,): where each played beat starts in the edit's audio, and where it ends."""
    durations = np.diff(np.asarray(bounds_s, dtype=np.float64))[np.asarray(beat_sequence, dtype=np.int64)]
    return np.concatenate([[0.0], np.cumsum(durations)])


def differing_runs(seq_a: Sequence[int], seq_b: Sequence[int], n_beats: int) -> np.ndarray:
    """Shape (n_runs, 2): runs ``[first, stop)`` of source beats the two edits play a different number of times."""
    counts_a = np.bincount(np.asarray(seq_a, dtype=np.int64), minlength=n_beats)[:n_beats]
    counts_b = np.bincount(np.asarray(seq_b, dtype=np.int64), minlength=n_beats)[:n_beats]
    edges = np.diff(np.concatenate([[0], (counts_a != counts_b).astype(np.int8), [0]]))
    return np.stack([np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)], axis=1)


def _times_of_beats(sequence: np.ndarray, starts: np.ndarray, beats: np.ndarray) -> np.ndarray:
    """Where each of ``beats`` (or, if cut, the next beat played) first starts in an edit's time."""
    if sequence.size == 0:
        return np.zeros(len(beats))
    # the first slot playing a beat >= b is the first where the running maximum reaches b
    first = np.searchsorted(np.maximum.accumulate(sequence), beats, side="left")
    return starts[np.minimum(first, sequence.size)]


def _merge(regions: np.ndarray) -> list[list[float]]:
    merged: list[list[float]] = []
    for start, end in sorted(regions.tolist()):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [[round(s, 3), round(e, 3)] for s, e in merged]


def differing_regions_s(
    seq_a: Sequence[int], seq_b: Sequence[int], bounds_s: np.ndarray, pad_s: float = REGION_PAD_S
) -> dict[str, list[list[float]]]:
    """Where two edits differ, in each edit's own time.

    Parameters
    ----------
    seq_a, seq_b : sequence of int
        Source beat indices each edit plays, in playback order.
    bounds_s : ndarray, shape (n_beats + 1,)
        Segment bounds of the song's beats (seconds), as ``segment_bounds`` makes them.
    pad_s : float
        Seconds added on both sides of each region (a cut becomes its splice and ``pad_s`` around it).

    Returns
    -------
    dict
        ``{"a": regions, "b": regions}``, each a sorted list of merged ``[start_s, end_s]``.
    """
    runs = differing_runs(seq_a, seq_b, len(bounds_s) - 1)
    out: dict[str, list[list[float]]] = {}
    for label, seq in (("a", seq_a), ("b", seq_b)):
        sequence = np.asarray(seq, dtype=np.int64)
        starts = edit_timeline_s(sequence, bounds_s)
        begin = _times_of_beats(sequence, starts, runs[:, 0])
        end = _times_of_beats(sequence, starts, runs[:, 1])
        regions = np.stack([np.maximum(0.0, begin - pad_s), np.minimum(starts[-1], end + pad_s)], axis=1)
        out[label] = _merge(regions)
    return out


def requirements_from(
    regions: dict[str, list[list[float]]], durations_s: Sequence[float], min_seconds: float
) -> dict[str, ListeningRequirement]:
    """What each version must have had played, from its differing ``regions`` (``{}`` for a rating)."""
    labels = ("a", "b")[: len(durations_s)]
    on = min_seconds > 0
    return {
        label: ListeningRequirement(
            round(max(0.0, min(float(min_seconds), float(duration))), 3), regions.get(label, []) if on else []
        )
        for label, duration in zip(labels, durations_s)
    }


def task_requirements(
    sequences: Sequence[Sequence[int]], durations_s: Sequence[float], bounds_s: np.ndarray, min_seconds: float
) -> dict[str, ListeningRequirement]:
    """What each version of a task must have had played.

    Parameters
    ----------
    sequences : sequence of beat sequences
        One per edit as presented (A, then B); one for a rating task.
    durations_s : sequence of float
        Each edit's length (seconds).
    bounds_s : ndarray
        The song's segment bounds (seconds).
    min_seconds : float
        The setting; 0 turns must-listen off.

    Returns
    -------
    dict
        ``{"a": requirement, "b": requirement}`` (``"b"`` only for pairs).
    """
    regions = differing_regions_s(sequences[0], sequences[1], bounds_s) if len(sequences) == 2 else {}
    return requirements_from(regions, durations_s, min_seconds)


def shortfall(requirements: dict[str, ListeningRequirement], record: Listening | None) -> str | None:
    """One line naming what is still unheard, or ``None`` when ``record`` meets every requirement."""
    if all(r.needed_s <= 0 for r in requirements.values()):
        return None
    if record is None:
        return "listening record missing: send listening {a_s, b_s, original_s}, the seconds you played of each"
    heard = {"a": record.a_s, "b": record.b_s}
    short = [
        f"{label.upper()} ({heard[label] or 0:.1f} s of {req.needed_s:.1f} s)"
        for label, req in requirements.items()
        if not req.is_met(heard[label])
    ]
    if not short:
        return None
    return "not listened enough: still to hear " + ", ".join(short)


def full_listening(task: dict[str, Any]) -> dict[str, float]:
    """A listening record claiming every version of a task (as ``/api/next`` gave it) was heard in full.

    For API clients that judge without a person listening (the rater bot, load tests).
    """
    record = {"original_s": float(task["song"]["duration_seconds"]), "a_s": float(task["a"]["duration_seconds"])}
    if task.get("b"):
        record["b_s"] = float(task["b"]["duration_seconds"])
    return record

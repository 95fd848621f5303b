"""How different a song's candidates are: a pair a rater cannot tell apart teaches nothing.

:func:`song_diversity` summarises one song's candidates: the range of their
lengths and splice counts, the mean pairwise action distance (share of beats
edited differently) and the share of pairs whose audio differs for more than
``min_differing_s`` seconds (:func:`rl_editor.edit.differing_seconds`).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

import numpy as np

from rl_editor.edit import beat_sequence, differing_seconds, splice_pairs

MIN_DIFFERING_SECONDS = 4.0


def song_diversity(
    actions: Sequence[np.ndarray],
    beat_durations_s: np.ndarray,
    duration_seconds: float,
    min_differing_s: float = MIN_DIFFERING_SECONDS,
) -> dict[str, float]:
    """Figures of one song's candidate edits.

    Returns
    -------
    dict
        ``n`` (candidates), ``length_min`` / ``length_max`` (shares of the song),
        ``splices_min`` / ``splices_max``, ``action_distance`` (mean pairwise
        share of beats with different actions) and ``audible_pair_share``
        (pairs differing for more than ``min_differing_s`` seconds); NaN where
        there is no pair.
    """
    edits = [np.asarray(a) for a in actions]
    durations = np.asarray(beat_durations_s, dtype=np.float64)
    lengths = [float(durations[beat_sequence(a)].sum()) / max(duration_seconds, 1e-9) for a in edits]
    splices = [len(splice_pairs(a)) for a in edits]
    pairs = list(combinations(range(len(edits)), 2))
    distance = [float(np.mean(edits[i] != edits[j])) for i, j in pairs]
    audible = [differing_seconds(edits[i], edits[j], durations) > min_differing_s for i, j in pairs]
    return {
        "n": float(len(edits)),
        "length_min": min(lengths, default=float("nan")),
        "length_max": max(lengths, default=float("nan")),
        "splices_min": float(min(splices, default=0)),
        "splices_max": float(max(splices, default=0)),
        "action_distance": float(np.mean(distance)) if pairs else float("nan"),
        "audible_pair_share": float(np.mean(audible)) if pairs else float("nan"),
    }


def diversity_line(song_id: str, figures: dict[str, float]) -> str:
    """One printed line of :func:`song_diversity`'s figures."""
    return (
        f"{song_id}: {int(figures['n'])} candidates, length {figures['length_min']:.0%}-{figures['length_max']:.0%}, "
        f"splices {int(figures['splices_min'])}-{int(figures['splices_max'])}, action distance "
        f"{figures['action_distance']:.2f}, pairs audibly different "
        f"(> {MIN_DIFFERING_SECONDS:g} s) {figures['audible_pair_share']:.0%}"
    )


__all__ = ["MIN_DIFFERING_SECONDS", "diversity_line", "song_diversity"]

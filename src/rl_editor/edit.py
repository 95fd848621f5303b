"""The ``Edit`` type: a song plus one action per beat, shared by every stage.

Actions: ``KEEP`` (0) plays the beat once, ``CUT`` (1) drops it, ``REPEAT`` (2)
plays it twice. A run of consecutive repeat actions is played as a block, then
the block again (``[2, 2, 2, 2]`` on one bar plays the bar twice, not each beat
twice), so a bar or a phrase can be repeated with one splice. Everything about an edit's timing follows from the actions and
the song's beat grid, without rendering audio.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rl_editor.errors import RlEditorError

KEEP, CUT, REPEAT = 0, 1, 2
ACTION_NAMES = ("keep", "cut", "repeat")


class EditError(RlEditorError, ValueError):
    """An action sequence that cannot describe an edit of its song."""


def validate_actions(actions: np.ndarray | list[int], n_beats: int | None = None) -> np.ndarray:
    """Return ``actions`` as an int8 array, checking values (and length if ``n_beats`` is given)."""
    arr = np.asarray(actions)
    if arr.ndim != 1:
        raise EditError(f"actions must be one-dimensional, got shape {arr.shape}")
    if arr.size and (arr.min() < 0 or arr.max() > 2 or not np.all(arr == np.round(arr))):
        raise EditError("actions must be 0 (keep), 1 (cut) or 2 (repeat)")
    if n_beats is not None and arr.size != n_beats:
        raise EditError(f"{arr.size} actions for a song of {n_beats} beats")
    return arr.astype(np.int8)


def repeat_runs(actions: np.ndarray) -> np.ndarray:
    """Shape (n_runs, 2): ``(first, last)`` source beat of every maximal run of repeat actions."""
    rep = np.concatenate([[False], np.asarray(actions) == REPEAT, [False]])
    edges = np.flatnonzero(rep[1:] != rep[:-1])
    runs: np.ndarray = edges.reshape(-1, 2) - np.array([0, 1])
    return runs


def beat_sequence(actions: np.ndarray) -> np.ndarray:
    """Source beat indices in playback order: kept beats once, each repeated run twice in a row.

    Examples
    --------
    >>> beat_sequence(np.array([0, 2, 2, 1, 0])).tolist()
    [0, 1, 2, 1, 2, 4]
    """
    actions = np.asarray(actions)
    pieces = []
    start = 0
    for first, last in repeat_runs(actions):
        pieces.append(np.flatnonzero(actions[start:first] != CUT) + start)
        run = np.arange(first, last + 1)
        pieces += [run, run]
        start = last + 1
    pieces.append(np.flatnonzero(actions[start:] != CUT) + start)
    return np.concatenate(pieces).astype(np.int64) if pieces else np.zeros(0, dtype=np.int64)


def sequence_counts(n_source_beats: int, beat_sequence: np.ndarray) -> np.ndarray:
    """Actions that play ``beat_sequence`` (source beats in playback order).

    Beats played once are kept, twice or more are repeated (the action set
    cannot say more), never are cut.
    """
    plays = np.bincount(np.asarray(beat_sequence, dtype=np.int64), minlength=n_source_beats)
    return np.where(plays == 0, CUT, np.where(plays >= 2, REPEAT, KEEP)).astype(np.int8)


def splice_pairs(actions: np.ndarray) -> np.ndarray:
    """Shape (n_splices, 2): ``(from_beat, to_beat)`` wherever playback jumps.

    A jump is any place where the next played beat is not the source's next beat:
    after a cut, and at the restart of a repeated beat.
    """
    seq = beat_sequence(actions)
    if seq.size < 2:
        return np.zeros((0, 2), dtype=np.int64)
    jumps = np.flatnonzero(seq[1:] != seq[:-1] + 1)
    return np.stack([seq[jumps], seq[jumps + 1]], axis=1)


def differing_seconds(actions_a: np.ndarray, actions_b: np.ndarray, beat_durations_s: np.ndarray) -> float:
    """Seconds of source audio that one edit plays more often than the other (how far apart they sound).

    Two edits that cut the same phrases differ by 0 s; moving a 10-second cut
    elsewhere makes them differ by about 20 s.
    """
    durations = np.asarray(beat_durations_s, dtype=np.float64)
    n = durations.size
    plays_a = np.bincount(beat_sequence(np.asarray(actions_a)), minlength=n)
    plays_b = np.bincount(beat_sequence(np.asarray(actions_b)), minlength=n)
    return float(np.sum(np.abs(plays_a - plays_b) * durations))


@dataclass(frozen=True)
class Edit:
    """One edit of one song.

    Parameters
    ----------
    song_id : str
        The song's identifier (``SongAnalysis.song_id``).
    actions : ndarray of int8, shape (n_beats,)
        One action per source beat.
    """

    song_id: str
    actions: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "actions", validate_actions(self.actions))

    @property
    def n_beats(self) -> int:
        return int(self.actions.size)

    def beat_sequence(self) -> np.ndarray:
        return beat_sequence(self.actions)

    def splice_pairs(self) -> np.ndarray:
        return splice_pairs(self.actions)

    def duration_seconds(self, beat_durations_s: np.ndarray) -> float:
        """Length of the rendered edit, given each source beat's duration in seconds."""
        return float(np.asarray(beat_durations_s)[self.beat_sequence()].sum())

    def cut_share(self) -> float:
        """Share of source beats cut (0-1)."""
        return float(np.mean(self.actions == CUT)) if self.n_beats else 0.0

    def key(self) -> bytes:
        """Bytes that identify the action sequence (for de-duplicating candidates)."""
        return self.actions.tobytes()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Edit):
            return NotImplemented
        return self.song_id == other.song_id and np.array_equal(self.actions, other.actions)

    def __hash__(self) -> int:
        return hash((self.song_id, self.key()))

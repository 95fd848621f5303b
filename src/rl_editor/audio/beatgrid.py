"""``BeatGrid``: where a song's beats are, which is all rendering an edit needs to know about it.

A full :class:`~rl_editor.audio.song.SongAnalysis` also carries per-beat
features and bars; code that only cuts audio at beats (``render_edit``, the
feedback server's gold edits) takes a grid, made from an analysis with
:meth:`BeatGrid.of` or from any list of beat times (a manifest's).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from rl_editor.audio.song import BeatSegments

if TYPE_CHECKING:  # pragma: no cover
    from rl_editor.audio.song import SongAnalysis


@dataclass(frozen=True)
class BeatGrid(BeatSegments):
    """The beat grid of one audio file.

    Beat ``i`` spans ``segment_bounds_s[i]`` to ``segment_bounds_s[i + 1]``, as in
    ``SongAnalysis``: the first segment starts at 0 s and the last ends at
    ``duration_seconds``.

    Attributes
    ----------
    beat_times_s : ndarray of float, shape (n_beats,)
        Beat onsets in seconds, strictly increasing.
    duration_seconds : float
        Length of the file.
    source_sample_rate : int
        Sample rate of the file itself (Hz).
    channels : int
        Channel count of the file itself.
    song_id, path : str
        What the grid belongs to, named in error messages (may be empty).

    Examples
    --------
    >>> grid = BeatGrid([0.0, 0.5, 1.0], duration_seconds=1.4, source_sample_rate=44100, channels=2)
    >>> grid.beat_durations_s.round(2).tolist()
    [0.5, 0.5, 0.4]
    """

    beat_times_s: np.ndarray
    duration_seconds: float
    source_sample_rate: int
    channels: int
    song_id: str = ""
    path: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "beat_times_s", np.asarray(self.beat_times_s, dtype=np.float64))
        object.__setattr__(self, "duration_seconds", float(self.duration_seconds))

    @classmethod
    def of(cls, analysis: SongAnalysis) -> BeatGrid:
        """The beat grid of an analysed song (its beats, length, source rate and channels)."""
        return cls(
            beat_times_s=analysis.beat_times_s,
            duration_seconds=analysis.duration_seconds,
            source_sample_rate=analysis.source_sample_rate,
            channels=analysis.channels,
            song_id=analysis.song_id,
            path=analysis.path,
        )

    @property
    def n_beats(self) -> int:
        return int(self.beat_times_s.size)


def splice_times(segments: BeatSegments, actions: np.ndarray) -> list[dict[str, float]]:
    """Where each splice of an edit leaves and re-enters the source, and when it plays in the edit.

    Parameters
    ----------
    segments : BeatSegments
        The song's beat grid (a ``SongAnalysis`` or ``BeatGrid``).
    actions : array of int, shape (n_beats,)
        0 keep, 1 cut, 2 repeat.

    Returns
    -------
    list of dict
        One per splice, in playback order: ``source_out_s`` (the end of the last beat
        played before it), ``source_in_s`` (the start of the beat played after it) and
        ``edit_s`` (when it comes in the edit), in seconds rounded to the millisecond.

    Examples
    --------
    >>> grid = BeatGrid([0.0, 0.5, 1.0, 1.5], duration_seconds=2.0, source_sample_rate=44100, channels=1)
    >>> splice_times(grid, np.array([0, 1, 0, 0]))
    [{'source_out_s': 0.5, 'source_in_s': 1.0, 'edit_s': 0.5}]
    """
    from rl_editor.edit import beat_sequence

    bounds = segments.segment_bounds_s
    sequence = beat_sequence(np.asarray(actions))
    played_until = np.cumsum(np.diff(bounds)[sequence])
    jumps = np.flatnonzero(sequence[1:] != sequence[:-1] + 1)
    return [
        {
            "source_out_s": round(float(bounds[sequence[j] + 1]), 3),
            "source_in_s": round(float(bounds[sequence[j + 1]]), 3),
            "edit_s": round(float(played_until[j]), 3),
        }
        for j in jumps
    ]

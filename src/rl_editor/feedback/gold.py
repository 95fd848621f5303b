"""Gold edits: a manifest candidate with off-beat cuts, rendered beside the manifest.

A gold pair puts a candidate against its broken copy (cut runs that start mid-bar,
:func:`~rl_editor.feedback.tasks.broken_actions`), so the intact one is the right
answer and a rater who misses it is not listening. The store records the pairs;
this module makes their audio (``gold/<edit_id>.wav`` beside the manifest), cut at
the manifest's beat grid with :func:`rl_editor.audio.render_edit`.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass

import numpy as np

from rl_editor.audio.beatgrid import BeatGrid
from rl_editor.audio.io import AudioClip, load_audio, save_audio
from rl_editor.audio.render import render_edit
from rl_editor.feedback.tasks import beat_in_bar, broken_actions
from rl_editor.generate.manifest import Candidate, Manifest, SongEntry

LOG = logging.getLogger("rl_editor.feedback")
GOLD_FOLDER = "gold"
MIN_BEATS = 8  # fewer beats leave no bar whose middle a cut could start in


@dataclass(frozen=True)
class GoldEdit:
    """A broken copy of a candidate, rendered.

    Attributes
    ----------
    song_id : str
        The song both edits are of.
    intact_edit_id : str
        The candidate it breaks (the right answer of its gold pair).
    edit_id : str
        Its own id, ``<intact_edit_id>~gold``.
    path : str
        Its audio, relative to the manifest folder.
    actions : list of int
        Per beat: 0 keep, 1 cut, 2 repeat.
    duration_seconds : float
        Length of the rendered audio.
    """

    song_id: str
    intact_edit_id: str
    edit_id: str
    path: str
    actions: list[int]
    duration_seconds: float


def song_beat_grid(song: SongEntry, clip: AudioClip) -> BeatGrid:
    """The beat grid of a manifest song, for its decoded audio ``clip``."""
    return BeatGrid(
        beat_times_s=np.asarray(song.beats, dtype=np.float64),
        duration_seconds=song.duration_seconds,
        source_sample_rate=clip.sample_rate,
        channels=clip.channels,
        song_id=song.song_id,
        path=str(clip.path or song.song),
    )


def render_gold_edits(manifest: Manifest, gold_per_rater: int, rng: random.Random) -> list[GoldEdit]:
    """Render enough broken edits for each rater to get ``gold_per_rater`` different gold pairs.

    Songs take turns (each song's candidates in order), skipping songs with no
    candidate or fewer than 8 beats. A song whose audio cannot be decoded is
    logged and gets no gold edit; the others still do.

    Parameters
    ----------
    manifest : Manifest
        Its songs and candidates; the audio is written under its folder.
    gold_per_rater : int
        Gold pairs each rater gets (0 renders nothing).
    rng : random.Random
        Picks where the off-beat cuts start.

    Returns
    -------
    list of GoldEdit
        In the order rendered.
    """
    songs = [s for s in manifest.songs if s.candidates and len(s.beats) >= MIN_BEATS]
    if gold_per_rater <= 0 or not songs:
        return []
    rounds = -(-gold_per_rater // len(songs))
    made: list[GoldEdit] = []
    undecodable: set[str] = set()
    for k in range(rounds):
        for song in songs:
            if song.song_id in undecodable:
                continue
            cand = song.candidates[k % len(song.candidates)]
            actions = broken_actions(cand.actions, beat_in_bar(song.beats, song.downbeats), rng)
            try:
                source = load_audio(manifest.resolve(song.song))
                clip = render_edit(source, song_beat_grid(song, source), actions)
            except Exception as exc:  # any decoder error: a broken song must not stop the server
                reason = (str(exc).splitlines() or [type(exc).__name__])[0]
                LOG.warning(
                    "song %s: cannot decode %s (%s); it gets no gold pair",
                    song.song_id,
                    manifest.resolve(song.song),
                    reason,
                )
                undecodable.add(song.song_id)
                continue
            made.append(_save_gold_edit(manifest, cand, song.song_id, actions, clip))
    return made


def _save_gold_edit(manifest: Manifest, cand: Candidate, song_id: str, actions: list[int], clip: AudioClip) -> GoldEdit:
    edit_id = f"{cand.edit_id}~gold"
    path = f"{GOLD_FOLDER}/{edit_id}.wav"
    save_audio(manifest.root / path, clip)
    return GoldEdit(song_id, cand.edit_id, edit_id, path, actions, float(clip.duration_seconds))

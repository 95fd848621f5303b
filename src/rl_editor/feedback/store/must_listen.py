"""The must-listen rule of each task: what the rater has to play before a web judgment counts.

A task's differing regions depend only on its edits and song, which never
change under their ids, so they are computed once per process (when the task is
handed out, or else when it is judged). The seconds setting is read from the
database at most every :data:`SETTING_CACHE_SECONDS` per campaign.
"""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from rl_editor.audio.song import segment_bounds
from rl_editor.edit import beat_sequence
from rl_editor.feedback.listening import (
    ListeningRequirement,
    differing_regions_s,
    requirements_from,
    shortfall,
)
from rl_editor.feedback.models import SongRecord
from rl_editor.feedback.store.database import Database
from rl_editor.feedback.store.errors import InvalidJudgmentError, NotFoundError
from rl_editor.feedback.store.meta import must_listen_seconds
from rl_editor.feedback.store.served import check_claims
from rl_editor.feedback.store.statements import EDITS_BY_ID
from rl_editor.feedback.store.views import TaskView
from rl_editor.preferences import Listening

SETTING_CACHE_SECONDS = 5.0  # how long another process's change of the setting may take to apply here
SHAPE_CACHE_MAX = 4096

# differing regions per edit label, and each edit's length (s)
Shape = tuple[dict[str, list[list[float]]], list[float]]


def task_shape(
    actions: list[list[int]], durations_s: list[float], beats_s: list[float], song_duration_s: float
) -> Shape:
    """The differing regions (pairs only) and lengths of a task's edits, in the order shown."""
    regions: dict[str, list[list[float]]] = {}
    if len(actions) == 2:
        bounds = segment_bounds(beats_s, song_duration_s)
        sequences = [beat_sequence(np.asarray(a)).tolist() for a in actions]
        regions = differing_regions_s(sequences[0], sequences[1], bounds)
    return regions, [float(d) for d in durations_s]


class MustListen:
    """Requirements of tasks, and the check of a submission's listening record against them."""

    def __init__(self, db: Database):
        self.db = db
        self._seconds: dict[str, tuple[float, float]] = {}  # campaign -> (valid until, seconds)
        self._shapes: dict[tuple[str, ...], Shape] = {}  # (song id, edit ids as shown) -> shape

    def of_view(self, view: TaskView) -> dict[str, ListeningRequirement]:
        """What the rater must play of each edit of a task as handed out."""
        if view.song is None:
            return {}
        key = (view.song_id, *(e.edit_id for e in view.edits))
        shape = self._shapes.get(key)
        if shape is None:
            shape = task_shape(
                [e.actions for e in view.edits],
                [e.duration_seconds for e in view.edits],
                view.song.beats,
                view.song.duration_seconds,
            )
            self._remember(key, shape)
        cached = self._seconds.get(view.campaign)
        if cached is not None and cached[0] > time.monotonic():
            seconds = cached[1]
        else:
            with self.db.transaction(readonly=True) as session:
                seconds = self._setting(session, view.campaign)
        return requirements_from(shape[0], shape[1], seconds)

    def check(self, session: Session, values: dict[str, Any], record: Listening | None) -> None:
        """Raise :class:`InvalidJudgmentError` when ``record`` falls short for the judgment row ``values``, or
        claims more of a part than the server sent of it (:func:`~rl_editor.feedback.store.served.check_claims`)."""
        shown = [values["edit_a"]] if values["edit_b"] is None else [values["edit_a"], values["edit_b"]]
        if values["presented_order"] == "ba":
            shown.reverse()
        regions, durations = self._shape_from_rows(session, shown, values["song_id"])
        problem = shortfall(requirements_from(regions, durations, self._setting(session, values["campaign"])), record)
        if problem is not None:
            raise InvalidJudgmentError(problem)
        check_claims(session, values["task_id"], values["rater_id"], record)

    def forget_settings(self) -> None:
        """Drop the remembered setting (after this process changed it)."""
        self._seconds.clear()

    def _setting(self, session: Session, campaign: str) -> float:
        cached = self._seconds.get(campaign)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        seconds = must_listen_seconds(session, campaign)
        self._seconds[campaign] = (time.monotonic() + SETTING_CACHE_SECONDS, seconds)
        return seconds

    def _shape_from_rows(self, session: Session, edit_ids: list[str], song_id: str) -> Shape:
        key = (song_id, *edit_ids)
        shape = self._shapes.get(key)
        if shape is None:
            rows = {r.edit_id: r for r in session.execute(EDITS_BY_ID, {"ids": edit_ids}).all()}
            song = session.get(SongRecord, song_id)
            if song is None or len(rows) != len(edit_ids):
                raise NotFoundError(f"song {song_id!r} or its edits are not registered")
            shape = task_shape(
                [json.loads(rows[i].actions_json) for i in edit_ids],
                [rows[i].duration_seconds for i in edit_ids],
                json.loads(song.beats_json),
                float(song.duration_seconds),
            )
            self._remember(key, shape)
        return shape

    def _remember(self, key: tuple[str, ...], shape: Shape) -> None:
        if len(self._shapes) >= SHAPE_CACHE_MAX:
            self._shapes.clear()
        self._shapes[key] = shape

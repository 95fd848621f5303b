"""Who judges what next, and the audio of an assigned task.

The scheduling itself (:func:`rl_editor.feedback.tasks.assign_next`) runs inside
one transaction here and relies on the database for safety under concurrency.
A rater hears audio only through their own tasks: ``original``, ``a`` or ``b``
as they were shown, so an address names neither a file nor an edit.
"""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from rl_editor.feedback.audio_files import AudioFile, AudioVerifier, stored_fingerprint
from rl_editor.feedback.models import Assignment, EditRecord, SongRecord, Task, utc_in
from rl_editor.feedback.store.database import Database
from rl_editor.feedback.store.errors import AudioUnavailableError, NotFoundError
from rl_editor.feedback.store.meta import stored_song_library
from rl_editor.feedback.store.served import ServedAudioLog, requested_ranges
from rl_editor.feedback.store.statements import EDITS_BY_ID
from rl_editor.feedback.store.views import EditView, SongView, TaskView, edit_view
from rl_editor.feedback.tasks import AssignedTask, assign_next, rater_progress, read_rater_state, reserve_ahead

AUDIO_PARTS = ("original", "a", "b")
ASSIGN_ATTEMPTS = 5


def _presented_edit_ids(edit_a: str, edit_b: str | None, presented_order: str | None) -> list[str]:
    """A task's edit ids in the order its rater sees them (A, then B)."""
    ids = [edit_a] if edit_b is None else [edit_a, edit_b]
    if edit_b is not None and presented_order == "ba":
        ids.reverse()
    return ids


def _song_view(session: Session, assigned: AssignedTask) -> SongView | None:
    """The task's song: from the columns the scheduler returned with it, else read."""
    if assigned.song_columns is not None:
        duration, beats_json, downbeats_json = assigned.song_columns
    else:
        song = session.get(SongRecord, assigned.song_id)
        if song is None:
            return None
        duration, beats_json, downbeats_json = song.duration_seconds, song.beats_json, song.downbeats_json
    return SongView(
        song_id=assigned.song_id,
        duration_seconds=float(duration),
        beats=json.loads(beats_json),
        downbeats=json.loads(downbeats_json),
    )


class EditViews:
    """Views of stored edits, each read once per process: an edit id names one edit for good
    (its song and actions never change, :mod:`~rl_editor.feedback.store.catalog`), and a view
    carries nothing a move changes that a task page uses."""

    MAX_EDITS = 100_000

    def __init__(self) -> None:
        self._views: dict[str, EditView] = {}

    def preload(self, session: Session, edit_ids: list[str]) -> int:
        """Read the views of ``edit_ids`` now (e.g. every edit of the tasks still handed out); returns how many."""
        for start in range(0, len(edit_ids), 1000):
            for row in session.execute(EDITS_BY_ID, {"ids": edit_ids[start : start + 1000]}).all():
                self._views[row.edit_id] = edit_view(row)
        return len(self._views)

    def get(self, session: Session, edit_ids: list[str]) -> list[EditView]:
        missing = [i for i in edit_ids if i not in self._views]
        if missing:
            if len(self._views) > self.MAX_EDITS:
                self._views.clear()
            for row in session.execute(EDITS_BY_ID, {"ids": missing}).all():
                self._views[row.edit_id] = edit_view(row)
        return [self._views[i] for i in edit_ids]


def _task_view(session: Session, assigned: AssignedTask, edits: EditViews) -> TaskView:
    ids = _presented_edit_ids(assigned.edit_a, assigned.edit_b, assigned.presented_order)
    return TaskView(
        task_id=assigned.task_id,
        kind=assigned.kind,
        song_id=assigned.song_id,
        campaign=assigned.campaign,
        presented_order=assigned.presented_order,
        edits=edits.get(session, ids),
        song=_song_view(session, assigned),
    )


def _song_audio(song: SongRecord, library: Path) -> AudioFile:
    """A song's original as registered: it must resolve inside the song library (or the media root)."""
    return AudioFile(song.song_id, Path(song.audio_path), library, stored_fingerprint(song))


class Assignments:
    """Handing out tasks and their audio.

    Parameters
    ----------
    db : Database
    manifest_root : Path, optional
        Where edits registered without a folder of their own have their audio.
    audio_verifier : AudioVerifier
        Decides whether a registered file may still be served.
    """

    def __init__(self, db: Database, manifest_root: Path | None, audio_verifier: AudioVerifier):
        self.db = db
        self.manifest_root = manifest_root
        self.audio_verifier = audio_verifier
        self.edit_views = EditViews()
        self.served = ServedAudioLog(db)

    def next_task_and_progress(self, rater_id: int) -> tuple[TaskView | None, int, int]:
        """The rater's current task (the same until judged), a new one, or ``None`` when done,
        and the rater's ``(done, total)``, in one transaction.

        The rater's state is read once (:func:`read_rater_state`) and serves
        both the progress count and the scheduling. The count is taken before a
        task is picked, so the picked row stays locked only until the commit
        that follows; taking a task does not change it (the task moves from
        what the rater can still be handed to their open one).
        """
        for attempt in range(ASSIGN_ATTEMPTS):
            try:
                with self.db.transaction() as session:
                    state = read_rater_state(session, rater_id, lock=True)
                    done, total = rater_progress(session, rater_id, state)
                    assignment = assign_next(session, rater_id, state, settings=self.db.settings)
                    view = _task_view(session, assignment, self.edit_views) if assignment is not None else None
                    return view, done, total
            except IntegrityError:  # a concurrent request of the same rater won the race; retry
                if attempt == ASSIGN_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def upcoming_task(self, rater_id: int) -> TaskView | None:
        """The task the rater gets after their current one, reserved for them now if it is not yet
        (:func:`~rl_editor.feedback.tasks.reserve_ahead`); ``None`` without a current task or when nothing
        is left. Its own transaction, after the one that handed out the current task, so the rater's
        quotas are read afresh."""
        for attempt in range(ASSIGN_ATTEMPTS):
            try:
                with self.db.transaction() as session:
                    assignment = reserve_ahead(session, rater_id, settings=self.db.settings)
                    return _task_view(session, assignment, self.edit_views) if assignment is not None else None
            except IntegrityError:  # a concurrent request of the same rater won the race; retry
                if attempt == ASSIGN_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def warm_up(self, connections: int) -> int:
        """Before a server takes requests: read the edits of every task still handed out, and open
        ``connections`` pooled database connections, so the first raters of a campaign do not wait
        for them. Returns how many edit views are cached."""
        with self.db.transaction(readonly=True) as session:
            open_tasks = session.execute(
                select(Task.edit_a, Task.edit_b)
                .where(Task.n_assigned < Task.target_raters)
                .union(select(Task.edit_a, Task.edit_b).where(Task.is_gold.is_(True)))
            ).all()
            cached = self.edit_views.preload(session, sorted({e for row in open_tasks for e in row if e}))
        opened = [self.db.engine.connect() for _ in range(max(connections, 0))]
        for connection in opened:
            connection.close()  # back to the pool, connected
        return cached

    def progress(self, rater_id: int) -> tuple[int, int]:
        """(judged, total) for one rater."""
        with self.db.transaction(readonly=True) as session:
            return rater_progress(session, rater_id)

    def release_stale_assignments(self, older_than_s: float) -> int:
        """Hand back tasks that raters took but did not judge within ``older_than_s`` seconds.

        The slot goes back to the queue (another rater can take it); a late
        submission for a released task is refused (403) and never recorded.
        Returns how many assignments were released.
        """
        cutoff = utc_in(-older_than_s)
        with self.db.transaction() as session:
            stale = session.execute(
                select(Assignment.id, Assignment.task_id)
                .where(Assignment.judged_at.is_(None), Assignment.assigned_at < cutoff)
                .with_for_update()
            ).all()
            for assignment_id, task_id in stale:
                session.execute(delete(Assignment).where(Assignment.id == assignment_id))
                session.execute(update(Task).where(Task.id == task_id).values(n_assigned=Task.n_assigned - 1))
        return len(stale)

    def release_assignments_of(self, rater_id: int) -> int:
        """Hand back every task this rater holds but has not judged (a paused rater); returns how many."""
        with self.db.transaction() as session:
            held = session.execute(
                select(Assignment.id, Assignment.task_id)
                .where(Assignment.rater_id == rater_id, Assignment.judged_at.is_(None))
                .with_for_update()
            ).all()
            for assignment_id, task_id in held:
                session.execute(delete(Assignment).where(Assignment.id == assignment_id))
                session.execute(update(Task).where(Task.id == task_id).values(n_assigned=Task.n_assigned - 1))
        return len(held)

    def task_audio_file(self, rater_id: int, task_id: str, part: str) -> Path:
        """The audio file of one part of a task assigned to this rater (nothing is recorded as sent).

        ``part`` is ``original``, or ``a`` / ``b`` as the rater was shown them, so
        a URL names neither the file nor the edit (nothing tells a gold or an
        evaluation edit apart). Raises :class:`NotFoundError` for a task that is not this rater's or a part
        it does not have, and :class:`AudioUnavailableError` (naming the song) for a
        file that is gone, resolves outside the folder it must lie in (an edit's
        manifest folder, an original's song library; or the media root), or
        changed since registration.
        """
        if part not in AUDIO_PARTS:
            raise NotFoundError(f"no audio part {part!r} (one of {', '.join(AUDIO_PARTS)})")
        audio, what, _ = self._task_part(rater_id, task_id, part)
        return self._servable(audio, what)

    def record_audio_sent(
        self, rater_id: int, task_id: str, part: str, sent_file: Path, range_header: str | None = None
    ) -> None:
        """Record what a request for one part gets of ``sent_file`` (the file served: the part's own audio or its
        compressed copy), ``range_header`` being the request's HTTP ``Range`` (``None``: the whole file); later
        listening claims are checked against it (:mod:`~rl_editor.feedback.store.served`)."""
        _, _, duration_s = self._task_part(rater_id, task_id, part)
        size = sent_file.stat().st_size
        self.served.record(task_id, rater_id, part, size, duration_s, requested_ranges(range_header, size))

    def _task_part(self, rater_id: int, task_id: str, part: str) -> tuple[AudioFile, str, float]:
        """The registered file of one part of the rater's task, what to call it, and its duration (s)."""
        with self.db.transaction(readonly=True) as session:
            order = session.scalar(
                select(Assignment.presented_order).where(Assignment.task_id == task_id, Assignment.rater_id == rater_id)
            )
            task = session.get(Task, task_id) if order is not None else None
            if task is None:
                raise NotFoundError("no such task among yours")
            if part == "original":
                song = session.get(SongRecord, task.song_id)
                if song is None:
                    raise NotFoundError(f"song {task.song_id!r} has no registered audio")
                library = stored_song_library(session) or self.manifest_root
                if library is None:
                    raise AudioUnavailableError(f"song {song.song_id}: no song library is chosen; original not served")
                return _song_audio(song, library), "original", float(song.duration_seconds)
            ids = _presented_edit_ids(task.edit_a, task.edit_b, order)
            side = "ab".index(part)
            if side >= len(ids):
                raise NotFoundError(f"this task has no edit {part.upper()}")
            edit = session.get(EditRecord, ids[side])
            if edit is None:
                raise NotFoundError(f"edit {part.upper()} of this task is not registered")
        return self._edit_audio(edit, part), f"edit {edit.edit_id}", float(edit.duration_seconds)

    def _edit_audio(self, edit: EditRecord, part: str) -> AudioFile:
        root = Path(edit.root) if edit.root else self.manifest_root
        if root is None:
            raise NotFoundError(f"edit {part.upper()} has no audio on this server")
        return AudioFile(edit.song_id, root / edit.path, root, stored_fingerprint(edit))

    def _servable(self, audio: AudioFile, what: str) -> Path:
        path = self.audio_verifier.servable_path(audio)
        if path is None:
            raise AudioUnavailableError(
                f"song {audio.song_id}: {what} audio {audio.named_path} is missing, lies "
                f"outside {audio.folder} or changed since it was registered; not served"
            )
        return path

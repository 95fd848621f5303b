"""Recording answers: each is checked against its task and stored once.

A submission names its task and carries a client-made id; the same id again
returns the first record (a retried request is recorded once, also under
concurrent retries, by the unique constraint). A pair's preference is stored
canonically: ``a`` means the task's ``edit_a`` whatever order the rater saw,
and so are the seconds the rater played of each edit.

Submissions through the web API must carry a listening record that meets the
task's must-listen requirement (:mod:`rl_editor.feedback.listening`); the
in-process API (simulated raters, tests) may leave it out.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from rl_editor.feedback.models import Judgment, utc_now
from rl_editor.feedback.store.database import Database
from rl_editor.feedback.store.errors import ConflictError, ForbiddenError, InvalidJudgmentError, NotFoundError
from rl_editor.feedback.store.must_listen import MustListen
from rl_editor.feedback.store.statements import (
    ASSIGNMENT_LOCKED,
    BUMP_JUDGED,
    INSERT_JUDGMENT,
    JUDGMENT_BY_CLIENT,
    MARK_JUDGED,
    RATER_NAME,
    TASK_BY_ID,
)
from rl_editor.feedback.store.views import PREFERENCE_CHOICES, RATING_LABELS, JudgmentIn
from rl_editor.preferences import Listening

_SWAPPED = {"a": "b", "b": "a", "tie": "tie"}  # a preference as seen in order "ba", in the task's order


def listening_columns(record: Listening | None, presented_order: str | None) -> dict[str, float | None]:
    """The stored listening columns: seconds of the task's ``edit_a`` and ``edit_b`` (not A/B as shown)."""
    if record is None:
        return {"listened_a_s": None, "listened_b_s": None, "listened_original_s": None}
    canonical = record.swapped() if presented_order == "ba" else record
    return {"listened_a_s": canonical.a_s, "listened_b_s": canonical.b_s, "listened_original_s": canonical.original_s}


def pair_answer(j: JudgmentIn, presented_order: str) -> dict[str, Any]:
    """The checked answer columns of a pair judgment (preference made canonical).

    Raises :class:`InvalidJudgmentError` for a preference, strength or tie kind that does not fit a pair.
    """
    if j.preference not in PREFERENCE_CHOICES:
        raise InvalidJudgmentError("preference must be 'a', 'b' or 'tie' for a pair task")
    if j.strength not in (1, 2, 3):
        raise InvalidJudgmentError("strength must be 1, 2 or 3 for a pair task")
    if j.tie_kind is not None and j.preference != "tie":
        raise InvalidJudgmentError("tie_kind is only for preference 'tie'")
    preference = _SWAPPED[j.preference] if presented_order == "ba" else j.preference
    return {"preference": preference, "tie_kind": j.tie_kind, "strength": int(j.strength)}


def rating_answer(j: JudgmentIn) -> dict[str, Any]:
    """The checked answer column of a rating judgment; :class:`InvalidJudgmentError` outside 1-4."""
    if j.rating not in RATING_LABELS:
        raise InvalidJudgmentError("rating must be 1 (Poor) to 4 (Excellent) for a rating task")
    return {"rating": int(j.rating)}


def _refuse_another_answer(recorded: Judgment | None, j: JudgmentIn) -> None:
    """Raise :class:`ConflictError` when a repeated ``client_id`` carries another answer than the recorded one.

    A retry of the same answer is acknowledged as a duplicate; a different answer under the same id
    (another tab or window of the same rater) would be dropped, so it is refused instead.
    """
    if recorded is None:
        return
    answer = pair_answer(j, recorded.presented_order or "ab") if recorded.kind == "pair" else rating_answer(j)
    if any(getattr(recorded, column) != value for column, value in answer.items()) or (j.notes or "") != (
        recorded.notes or ""
    ):
        raise ConflictError(
            f"task {recorded.task_id} was already answered differently (perhaps in another tab "
            "or window); this answer was not saved and the first one is kept"
        )


class Judgments:
    """Submitting judgments and reading them back per rater."""

    def __init__(self, db: Database):
        self.db = db
        self.must_listen = MustListen(db)

    def submit_judgment(self, rater_id: int, judgment: JudgmentIn, require_listening: bool = False) -> tuple[int, bool]:
        """Record one judgment; returns ``(judgment_id, duplicate)``.

        A repeated ``client_id`` returns the first record with ``duplicate=True``
        (the unique constraint makes this hold under concurrent retries). The
        function returns only after the commit. With ``require_listening`` (web
        submissions) a judgment whose listening record does not meet the task's
        must-listen requirement raises :class:`InvalidJudgmentError`.
        """
        try:
            return self._submit(rater_id, judgment, require_listening)
        except IntegrityError:
            with self.db.transaction() as session:
                row = session.scalars(select(Judgment).where(Judgment.client_id == judgment.client_id)).first()
                if row is not None and row.rater_id == rater_id:
                    _refuse_another_answer(row, judgment)
                    return row.id, True
            raise ConflictError(f"task {judgment.task_id} was already judged") from None

    def _submit(self, rater_id: int, j: JudgmentIn, require_listening: bool) -> tuple[int, bool]:
        with self.db.transaction() as session:
            existing = session.execute(JUDGMENT_BY_CLIENT, {"cid": j.client_id}).first()
            if existing is not None:
                if existing.rater_id != rater_id:
                    raise ConflictError("client_id is already used by another submission; make a new one")
                _refuse_another_answer(session.get(Judgment, existing.id), j)
                return existing.id, True
            values = self._judgment_values(session, rater_id, j)
            if require_listening:
                self.must_listen.check(session, values, j.listening)
            judgment_id = session.execute(INSERT_JUDGMENT, values).scalar_one()
            session.execute(MARK_JUDGED, {"aid": values["assignment_id"], "at": values["created_at"]})
            session.execute(BUMP_JUDGED, {"tid": values["task_id"]})
            return judgment_id, False

    @staticmethod
    def _judgment_values(session: Session, rater_id: int, j: JudgmentIn) -> dict[str, Any]:
        """The row of a new judgment on a task assigned to this rater and not yet judged (row-locked)."""
        task = session.execute(TASK_BY_ID, {"tid": j.task_id}).first()
        if task is None:
            raise NotFoundError(f"no task {j.task_id!r}")
        assignment = session.execute(ASSIGNMENT_LOCKED, {"tid": j.task_id, "rid": rater_id}).first()
        if assignment is None:
            raise ForbiddenError(f"task {j.task_id} is not assigned to you")
        if assignment.judged_at is not None:
            raise ConflictError(f"task {j.task_id} is already judged (with another client_id)")
        is_pair = task.kind == "pair"
        answer = pair_answer(j, assignment.presented_order) if is_pair else rating_answer(j)
        return (
            dict(
                client_id=j.client_id,
                task_id=task.id,
                assignment_id=assignment.id,
                rater_id=rater_id,
                rater_name=session.execute(RATER_NAME, {"rid": rater_id}).scalar_one(),
                campaign=task.campaign,
                kind=task.kind,
                song_id=task.song_id,
                edit_a=task.edit_a,
                edit_b=task.edit_b,
                is_gold=bool(task.is_gold),
                preference=None,
                tie_kind=None,
                strength=None,
                rating=None,
                notes=j.notes or "",
                presented_order=assignment.presented_order if is_pair else None,
                time_spent_ms=j.time_spent_ms,
                created_at=utc_now(),
                source="web",
                extra_json="{}",
                **listening_columns(j.listening, assignment.presented_order if is_pair else None),
            )
            | answer
        )

    def revise_last_judgment(self, rater_id: int, judgment: JudgmentIn) -> int:
        """Replace the answer (and note) of the rater's most recent judgment; returns its id.

        Only the last judgment the rater gave can be revised, and ``judgment.task_id`` must
        name its task (else :class:`ConflictError`); the answer is checked as a new one would
        be (:class:`InvalidJudgmentError`). The replaced answer is kept in the row's
        ``extra_json`` under ``"revisions"``, with the time of the revision.
        """
        import json

        with self.db.transaction() as session:
            row = session.scalars(
                select(Judgment).where(Judgment.rater_id == rater_id).order_by(Judgment.id.desc()).limit(1)
            ).first()
            if row is None or row.task_id != judgment.task_id:
                raise ConflictError("only your last answer can be revised, and this is not it")
            answer = (
                pair_answer(judgment, row.presented_order or "ab") if row.kind == "pair" else rating_answer(judgment)
            )
            extra = json.loads(row.extra_json or "{}")
            extra.setdefault("revisions", []).append(
                {"revised_at": utc_now(), "notes": row.notes, **{column: getattr(row, column) for column in answer}}
            )
            for column, value in answer.items():
                setattr(row, column, value)
            row.notes = judgment.notes or ""
            row.extra_json = json.dumps(extra)
            return row.id

    def judgment_client_ids(self) -> set[str]:
        """Every stored client id (used by the load benchmark and crash test)."""
        with self.db.transaction(readonly=True) as session:
            return set(session.scalars(select(Judgment.client_id)).all())

    def judgments_of_rater(self, rater_id: int) -> list[dict[str, Any]]:
        """A rater's own judgments (as they answered them, not canonicalised)."""
        with self.db.transaction(readonly=True) as session:
            rows = session.scalars(select(Judgment).where(Judgment.rater_id == rater_id).order_by(Judgment.id)).all()
            return [
                {
                    "judgment_id": r.id,
                    "task_id": r.task_id,
                    "kind": r.kind,
                    "created_at": r.created_at,
                    "rating": r.rating,
                    "notes": r.notes,
                }
                for r in rows
            ]

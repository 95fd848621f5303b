"""Campaigns: groups of tasks; a ``held_out_only`` campaign (evaluation) goes only to held-out raters."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from rl_editor.feedback.models import Campaign, EditRecord, Task
from rl_editor.feedback.store.database import Database
from rl_editor.feedback.store.errors import ConflictError, FeedbackError, NotFoundError
from rl_editor.feedback.tasks import new_task

CAMPAIGN_NAME_MAX_CHARS = 100


def ensure_campaign(session: Session, name: str, held_out_only: bool = False) -> None:
    """Create campaign ``name`` unless it exists (an existing one keeps its ``held_out_only``)."""
    if session.get(Campaign, name) is None:
        session.add(Campaign(name=name, held_out_only=held_out_only))
        session.flush()


def known_edit_pair(session: Session, edit_a: str, edit_b: str, what: str) -> tuple[EditRecord, EditRecord]:
    """The stored rows of two edit ids; :class:`NotFoundError` (starting with ``what``) names an unknown one."""
    a, b = session.get(EditRecord, edit_a), session.get(EditRecord, edit_b)
    if a is None or b is None:
        raise NotFoundError(f"{what} unknown edit {edit_a if a is None else edit_b!r}; "
                            "create tasks from the manifest that holds it first")
    return a, b


class Campaigns:
    """Creating campaigns of chosen pairs (evaluation: old policy against new)."""

    def __init__(self, db: Database):
        self.db = db

    def create_campaign(self, name: str, pairs: list[tuple[str, str]], held_out_only: bool = True,
                        raters_per_pair: int = 1) -> str:
        """A campaign of comparison tasks over ``pairs`` of edit ids; returns its name.

        Tasks of a ``held_out_only`` campaign go only to raters marked held-out
        (and held-out raters get only such tasks), so evaluation judgments
        never mix with training data. Pairs already in the campaign are kept as they are.
        """
        if not name or len(name) > CAMPAIGN_NAME_MAX_CHARS:
            raise FeedbackError(f"campaign name must be 1-{CAMPAIGN_NAME_MAX_CHARS} characters")
        with self.db.transaction() as session:
            existing = session.get(Campaign, name)
            if existing is not None and bool(existing.held_out_only) != bool(held_out_only):
                raise ConflictError(f"campaign {name!r} exists with held_out_only={existing.held_out_only}")
            ensure_campaign(session, name, held_out_only)
            keys = set(session.scalars(select(Task.pair_key).where(Task.campaign == name)).all())
            for edit_a, edit_b in pairs:
                a, b = known_edit_pair(session, edit_a, edit_b, f"campaign {name!r}:")
                if a.song_id != b.song_id:
                    raise FeedbackError(f"campaign {name!r}: {edit_a!r} and {edit_b!r} are edits of different songs")
                task = new_task(name, a.song_id, edit_a, edit_b, target_raters=max(1, raters_per_pair))
                if task.pair_key not in keys:
                    keys.add(task.pair_key)
                    session.add(task)
        return name

"""Campaigns: groups of tasks; a ``held_out_only`` campaign (evaluation) goes only to held-out raters.

A campaign is sized by two settings kept with it: ``votes_per_pair`` (how many
raters judge each of its pairs; once a pair has them it is handed out no
more) and ``rater_quota`` (the most tasks one rater is handed in it, gold
pairs included). Either may be left unset.
"""

from __future__ import annotations

from sqlalchemy import select, update
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


def check_sizing(votes_per_pair: int | None, rater_quota: int | None) -> None:
    """Raise :class:`FeedbackError` for a votes-per-pair or quota below 1 (``None`` is fine: unset)."""
    for option, value in (("--votes-per-pair", votes_per_pair), ("--quota", rater_quota)):
        if value is not None and value < 1:
            raise FeedbackError(f"{option} must be at least 1 (leave it out for no setting), got {value}")


def size_campaign(
    session: Session, name: str, votes_per_pair: int | None = None, rater_quota: int | None = None
) -> Campaign:
    """Set the sizing of an existing campaign (``None`` leaves a setting as it is); returns its row.

    New votes per pair apply to every non-gold task of the campaign, judged or
    not: a pair that already has that many raters is handed out no more.
    """
    check_sizing(votes_per_pair, rater_quota)
    campaign = session.get(Campaign, name)
    if campaign is None:
        raise NotFoundError(f"no campaign {name!r}; create its tasks first (rl-editor tasks create --campaign)")
    if rater_quota is not None:
        campaign.rater_quota = int(rater_quota)
    if votes_per_pair is not None:
        campaign.votes_per_pair = int(votes_per_pair)
        session.execute(
            update(Task).where(Task.campaign == name, Task.is_gold.is_(False)).values(target_raters=int(votes_per_pair))
        )
    session.flush()
    return campaign


def known_edit_pair(session: Session, edit_a: str, edit_b: str, what: str) -> tuple[EditRecord, EditRecord]:
    """The stored rows of two edit ids; :class:`NotFoundError` (starting with ``what``) names an unknown one."""
    a, b = session.get(EditRecord, edit_a), session.get(EditRecord, edit_b)
    if a is None or b is None:
        raise NotFoundError(
            f"{what} unknown edit {edit_a if a is None else edit_b!r}; "
            "create tasks from the manifest that holds it first"
        )
    return a, b


class Campaigns:
    """Creating campaigns of chosen pairs (evaluation: old policy against new)."""

    def __init__(self, db: Database):
        self.db = db

    def create_campaign(
        self,
        name: str,
        pairs: list[tuple[str, str]],
        held_out_only: bool = True,
        raters_per_pair: int = 1,
        votes_per_pair: int | None = None,
        rater_quota: int | None = None,
    ) -> str:
        """A campaign of comparison tasks over ``pairs`` of edit ids; returns its name.

        Tasks of a ``held_out_only`` campaign go only to raters marked held-out
        (and held-out raters get only such tasks), so evaluation judgments
        never mix with training data. Pairs already in the campaign are kept as
        they are. ``votes_per_pair`` (kept with the campaign, for all its pairs)
        replaces ``raters_per_pair``; ``rater_quota`` caps each rater's tasks.
        """
        if not name or len(name) > CAMPAIGN_NAME_MAX_CHARS:
            raise FeedbackError(f"campaign name must be 1-{CAMPAIGN_NAME_MAX_CHARS} characters")
        check_sizing(votes_per_pair, rater_quota)
        if votes_per_pair is not None:
            raters_per_pair = votes_per_pair
        with self.db.transaction() as session:
            existing = session.get(Campaign, name)
            if existing is not None and bool(existing.held_out_only) != bool(held_out_only):
                raise ConflictError(f"campaign {name!r} exists with held_out_only={existing.held_out_only}")
            ensure_campaign(session, name, held_out_only)
            stored_votes = session.get(Campaign, name).votes_per_pair  # type: ignore[union-attr]
            if votes_per_pair is None and stored_votes is not None:
                raters_per_pair = stored_votes  # new pairs follow the campaign's setting
            keys = set(session.scalars(select(Task.pair_key).where(Task.campaign == name)).all())
            for edit_a, edit_b in pairs:
                a, b = known_edit_pair(session, edit_a, edit_b, f"campaign {name!r}:")
                if a.song_id != b.song_id:
                    raise FeedbackError(f"campaign {name!r}: {edit_a!r} and {edit_b!r} are edits of different songs")
                task = new_task(name, a.song_id, edit_a, edit_b, target_raters=max(1, raters_per_pair))
                if task.pair_key not in keys:
                    keys.add(task.pair_key)
                    session.add(task)
            session.flush()
            size_campaign(session, name, votes_per_pair, rater_quota)
        return name

    def set_sizing(self, name: str, votes_per_pair: int | None = None, rater_quota: int | None = None) -> None:
        """Change a campaign's votes per pair and per-rater quota (``None`` keeps a setting)."""
        with self.db.transaction() as session:
            size_campaign(session, name, votes_per_pair, rater_quota)

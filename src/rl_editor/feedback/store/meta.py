"""Settings kept with the data: how many gold pairs each rater gets, and the base URL of printed links."""

from __future__ import annotations

from sqlalchemy.orm import Session

from rl_editor.feedback.models import Meta
from rl_editor.feedback.store.database import Database
from rl_editor.feedback.store.errors import FeedbackError
from rl_editor.feedback.tasks import GOLD_PER_RATER_KEY as GOLD_PER_RATER

LINK_BASE_KEYS = ("public_url", "served_url")  # meta keys, in the order links prefer them


def get_meta(session: Session, key: str, default: str | None = None) -> str | None:
    """The stored value of ``key``, or ``default``."""
    row = session.get(Meta, key)
    return row.value if row is not None else default


def set_meta(session: Session, key: str, value: str) -> None:
    """Store ``value`` under ``key`` (replacing an earlier one)."""
    row = session.get(Meta, key)
    if row is None:
        session.add(Meta(key=key, value=value))
    else:
        row.value = value


def stored_gold_per_rater(session: Session) -> int:
    """Gold pairs each rater gets, as the last task creation set it (0 before any)."""
    return int(get_meta(session, GOLD_PER_RATER, "0") or 0)


class StoredSettings:
    """The store-wide settings behind their own transactions."""

    def __init__(self, db: Database):
        self.db = db

    def gold_per_rater(self) -> int:
        """Gold pairs each rater gets."""
        with self.db.transaction(readonly=True) as session:
            return stored_gold_per_rater(session)

    def set_link_base(self, key: str, url: str) -> None:
        """Keep a base URL of printed links: ``public_url`` (set by the organiser) or ``served_url`` (by ``serve``)."""
        if key not in LINK_BASE_KEYS:
            raise FeedbackError(f"unknown link setting {key!r} (one of {', '.join(LINK_BASE_KEYS)})")
        with self.db.transaction() as session:
            set_meta(session, key, url)

    def link_base(self, key: str | None = None) -> str | None:
        """The stored base URL of links: ``key``'s value, or (no key) the public URL, else the served address."""
        with self.db.transaction(readonly=True) as session:
            for name in (key,) if key else LINK_BASE_KEYS:
                value = get_meta(session, name)
                if value:
                    return value
        return None

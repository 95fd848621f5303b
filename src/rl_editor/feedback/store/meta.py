"""Settings kept with the data: gold pairs per rater, the base URL of printed links, the song library, and
listening rules.

The song library is the folder the organiser chose for the songs raters hear
(``rl-editor serve --songs DIR``): a manifest naming a song outside it is
refused, and the server serves no original from elsewhere.

Listening rules (must-listen seconds, headphone check) are store-wide, and a
campaign may override them: the key ``<setting>:<campaign>`` wins over ``<setting>``.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from rl_editor.feedback.models import Meta
from rl_editor.feedback.store.database import Database
from rl_editor.feedback.store.errors import FeedbackError
from rl_editor.feedback.tasks import GOLD_PER_RATER_KEY as GOLD_PER_RATER

LINK_BASE_KEYS = ("public_url", "served_url")  # meta keys, in the order links prefer them
MUST_LISTEN_SECONDS = "must_listen_seconds"
HEADPHONE_CHECK = "headphone_check"
SONG_LIBRARY = "song_library"


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


def stored_song_library(session: Session) -> Path | None:
    """The song library folder the organiser chose (absolute), or ``None`` before any choice."""
    value = get_meta(session, SONG_LIBRARY)
    return Path(value) if value else None


def campaign_key(setting: str, campaign: str | None) -> str:
    """The meta key of ``setting`` for one campaign (``None``: the store-wide key)."""
    return setting if campaign is None else f"{setting}:{campaign}"


def setting_for(session: Session, setting: str, campaign: str | None, default: str) -> str:
    """``setting`` for ``campaign``: the campaign's own value, else the store-wide one, else ``default``."""
    if campaign is not None:
        value = get_meta(session, campaign_key(setting, campaign))
        if value is not None:
            return value
    return get_meta(session, setting, default) or default


def must_listen_seconds(session: Session, campaign: str | None = None) -> float:
    """Seconds of each version a rater must play before judging (0: must-listen off)."""
    from rl_editor.feedback.listening import DEFAULT_MIN_SECONDS

    return float(setting_for(session, MUST_LISTEN_SECONDS, campaign, str(DEFAULT_MIN_SECONDS)))


def headphone_check_on(session: Session) -> bool:
    """Whether raters must pass the headphone check: set store-wide or for any campaign."""
    rows = session.scalars(
        select(Meta.value).where((Meta.key == HEADPHONE_CHECK) | Meta.key.startswith(HEADPHONE_CHECK + ":"))
    ).all()
    return any(value == "on" for value in rows)


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

    def set_song_library(self, folder: Path, keep_existing: bool = False) -> Path:
        """Choose the folder songs must lie in; returns the library in force.

        ``keep_existing``: only when none was chosen yet (tools that know where their songs are).
        """
        resolved = Path(folder).expanduser().resolve()
        if not resolved.is_dir():
            raise FeedbackError(f"song library {folder}: not a folder")
        with self.db.transaction() as session:
            current = stored_song_library(session)
            if keep_existing and current is not None:
                return current
            set_meta(session, SONG_LIBRARY, str(resolved))
        return resolved

    def song_library(self) -> Path | None:
        """The song library folder, or ``None`` before the organiser chose one."""
        with self.db.transaction(readonly=True) as session:
            return stored_song_library(session)

    def set_must_listen_seconds(self, seconds: float, campaign: str | None = None) -> None:
        """Seconds of each version raters must play before a judgment counts (0: off), store-wide or per campaign."""
        if not seconds >= 0:
            raise FeedbackError(f"must-listen seconds must be 0 or more, not {seconds!r}")
        with self.db.transaction() as session:
            set_meta(session, campaign_key(MUST_LISTEN_SECONDS, campaign), repr(float(seconds)))

    def must_listen_seconds(self, campaign: str | None = None) -> float:
        """Seconds of each version a rater must play before judging (0: off)."""
        with self.db.transaction(readonly=True) as session:
            return must_listen_seconds(session, campaign)

    def set_headphone_check(self, on: bool, campaign: str | None = None) -> None:
        """Require the headphone check before any task (store-wide), or for raters of one campaign."""
        with self.db.transaction() as session:
            set_meta(session, campaign_key(HEADPHONE_CHECK, campaign), "on" if on else "off")

    def headphone_check_on(self) -> bool:
        """Whether raters must pass the headphone check before they get tasks."""
        with self.db.transaction(readonly=True) as session:
            return headphone_check_on(session)

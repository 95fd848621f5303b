"""Raters and admin tokens: creating, revoking and pausing them, and recognising their tokens.

Only a token's sha256 is stored (``rl_editor.feedback.auth``). A token stops
working when it expires, once it is revoked, and (a rater's) while the rater is
deactivated. A verified rater token is remembered in memory for
``settings.auth_cache_seconds``, which spares the database one query per
request; a change made in this process forgets it at once, one made by another
process (the CLI) applies within that time.

Rater names are shown on terminals and pages: a name with control or format
characters (escape sequences, bidirectional overrides) is refused, and
:func:`printable` escapes any such character of a name stored before.
"""

from __future__ import annotations

import time
import unicodedata

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from rl_editor.feedback.auth import hash_token, new_token, token_matches
from rl_editor.feedback.models import AdminToken, Rater, utc_in, utc_now
from rl_editor.feedback.store.database import Database
from rl_editor.feedback.store.errors import FeedbackError, InvalidNameError, NotFoundError
from rl_editor.feedback.store.views import RaterInfo

AUTH_CACHE_MAX_ENTRIES = 10_000
NAME_MAX_CHARS = 200
UNPRINTABLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def _expiry(expires_in_s: float | None) -> str | None:
    return utc_in(expires_in_s) if expires_in_s is not None else None


def _unprintable(char: str) -> bool:
    return unicodedata.category(char) in UNPRINTABLE_CATEGORIES


def printable(text: str) -> str:
    """``text`` with every control or format character escaped (``\\x1b``, ``\\u202e``), safe on a terminal."""
    return "".join(char.encode("unicode_escape").decode("ascii") if _unprintable(char) else char for char in text)


def check_rater_name(name: str) -> str:
    """The stripped name, or :class:`InvalidNameError` for an empty, long or unprintable one."""
    name = name.strip()
    if not name or len(name) > NAME_MAX_CHARS:
        raise InvalidNameError(f"rater name must be 1-{NAME_MAX_CHARS} characters")
    if any(map(_unprintable, name)):
        raise InvalidNameError(f"rater name {printable(name)!r} has control or format characters; use plain text")
    return name


def rater_status(row: Rater, now: str) -> str:
    """``active``, ``deactivated``, ``revoked`` or ``expired``."""
    if row.revoked_at is not None:
        return "revoked"
    if row.expires_at is not None and row.expires_at <= now:
        return "expired"
    return "deactivated" if row.deactivated_at is not None else "active"


def _info(row: Rater, now: str) -> RaterInfo:
    return RaterInfo(row.id, row.name, bool(row.held_out), row.created_at, rater_status(row, now), row.expires_at)


def rater_named(session: Session, name: str) -> Rater:
    """The rater called ``name`` (locked for update), or :class:`NotFoundError`."""
    row = session.scalars(select(Rater).where(Rater.name == name).with_for_update()).first()
    if row is None:
        raise NotFoundError(f"no rater named {printable(name)!r} (see `rl-editor raters list`)")
    return row


class RaterAccounts:
    """Raters' and organisers' tokens over one database."""

    def __init__(self, db: Database):
        self.db = db
        self._auth_cache: dict[str, tuple[float, RaterInfo]] = {}  # token sha256 -> (valid until, rater)

    def add_rater(self, name: str, held_out: bool = False, expires_in_s: float | None = None) -> str:
        """Create a rater; returns their token (shown once, only its sha256 is stored).

        Raises :class:`InvalidNameError` for a bad name and :class:`FeedbackError` for a taken one.
        """
        name = check_rater_name(name)
        token = new_token()
        try:
            with self.db.transaction() as session:
                session.add(
                    Rater(
                        name=name,
                        token_hash=hash_token(token),
                        held_out=bool(held_out),
                        expires_at=_expiry(expires_in_s),
                    )
                )
        except IntegrityError:
            raise FeedbackError(f"a rater named {name!r} already exists; choose another name") from None
        return token

    def list_raters(self) -> list[RaterInfo]:
        """Every rater, oldest first, with their status."""
        now = utc_now()
        with self.db.transaction(readonly=True) as session:
            rows = session.scalars(select(Rater).order_by(Rater.id)).all()
            return [_info(r, now) for r in rows]

    def rater_id(self, name: str) -> int:
        """The id of the rater called ``name``, or :class:`NotFoundError`."""
        with self.db.transaction(readonly=True) as session:
            found = session.scalar(select(Rater.id).where(Rater.name == name))
        if found is None:
            raise NotFoundError(f"no rater named {printable(name)!r} (see `rl-editor raters list`)")
        return found

    def new_link(self, name: str, expires_in_s: float | None = None) -> str:
        """A new token for the rater ``name`` (their old link stops working; a revoked rater is let back in)."""
        token = new_token()
        with self.db.transaction() as session:
            row = rater_named(session, name)
            row.token_hash, row.revoked_at, row.expires_at = hash_token(token), None, _expiry(expires_in_s)
        self._auth_cache.clear()
        return token

    def revoke_rater(self, name: str) -> None:
        """Make the rater's link stop working for good (a new link, :meth:`new_link`, lets them back in)."""
        with self.db.transaction() as session:
            row = rater_named(session, name)
            row.revoked_at = row.revoked_at or utc_now()
        self._auth_cache.clear()

    def set_active(self, name: str, active: bool) -> int:
        """Pause (``active=False``) or resume a rater; returns their id. A paused rater's link is refused."""
        with self.db.transaction() as session:
            row = rater_named(session, name)
            row.deactivated_at = None if active else (row.deactivated_at or utc_now())
            rater_id = row.id
        self._auth_cache.clear()
        return rater_id

    def create_admin_token(self, expires_in_s: float | None = None) -> str:
        """Create an admin token; returns it (shown once, stored hashed)."""
        token = new_token()
        with self.db.transaction() as session:
            session.add(AdminToken(token_hash=hash_token(token), expires_at=_expiry(expires_in_s)))
        return token

    def revoke_admin_tokens(self) -> int:
        """Revoke every admin token still valid; returns how many."""
        now = utc_now()
        with self.db.transaction() as session:
            revoked = session.execute(update(AdminToken).where(AdminToken.revoked_at.is_(None)).values(revoked_at=now))
        return int(getattr(revoked, "rowcount", 0) or 0)

    def authenticate_rater(self, token: str) -> RaterInfo | None:
        """The rater holding ``token``, or ``None`` for an unknown, expired or revoked token or a paused rater.

        A successful lookup is remembered for ``settings.auth_cache_seconds`` (never
        past the token's expiry), which spares the database one query per request.
        """
        digest = hash_token(token)
        cached = self._auth_cache.get(digest)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        now = utc_now()
        with self.db.transaction(readonly=True) as session:
            row = session.scalars(select(Rater).where(Rater.token_hash == digest)).first()
            if row is None or not token_matches(token, row.token_hash):
                return None
            info = _info(row, now)
        if info.status != "active":
            return None
        self._remember(digest, info, row.expires_at)
        return info

    def _remember(self, digest: str, info: RaterInfo, expires_at: str | None) -> None:
        cache_seconds = self.db.settings.auth_cache_seconds
        if expires_at is not None and expires_at <= utc_in(cache_seconds):
            return  # the token expires before the cache entry would
        if len(self._auth_cache) > AUTH_CACHE_MAX_ENTRIES:
            self._auth_cache.clear()
        self._auth_cache[digest] = (time.monotonic() + cache_seconds, info)

    def authenticate_admin(self, token: str) -> bool:
        """Whether ``token`` is a valid admin token: not expired and not revoked."""
        digest = hash_token(token)
        with self.db.transaction(readonly=True) as session:
            row = session.scalars(select(AdminToken).where(AdminToken.token_hash == digest)).first()
            if row is None or not token_matches(token, row.token_hash) or row.revoked_at is not None:
                return False
            return row.expires_at is None or row.expires_at > utc_now()

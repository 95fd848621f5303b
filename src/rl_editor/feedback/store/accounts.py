"""Raters and admin tokens: creating them, and recognising their tokens.

Only a token's sha256 is stored (``rl_editor.feedback.auth``). A verified rater
token is remembered in memory for ``settings.auth_cache_seconds``, which spares
the database one query per request.
"""

from __future__ import annotations

import time

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from rl_editor.feedback.auth import hash_token, new_token, token_matches
from rl_editor.feedback.models import AdminToken, Rater, utc_in, utc_now
from rl_editor.feedback.store.database import Database
from rl_editor.feedback.store.errors import FeedbackError
from rl_editor.feedback.store.views import RaterInfo

AUTH_CACHE_MAX_ENTRIES = 10_000


def _expiry(expires_in_s: float | None) -> str | None:
    return utc_in(expires_in_s) if expires_in_s is not None else None


class RaterAccounts:
    """Raters' and organisers' tokens over one database."""

    def __init__(self, db: Database):
        self.db = db
        self._auth_cache: dict[str, tuple[float, RaterInfo]] = {}  # token sha256 -> (valid until, rater)

    def add_rater(self, name: str, held_out: bool = False, expires_in_s: float | None = None) -> str:
        """Create a rater; returns their token (shown once, only its sha256 is stored)."""
        name = name.strip()
        if not name or len(name) > 200:
            raise FeedbackError("rater name must be 1-200 characters")
        token = new_token()
        try:
            with self.db.transaction() as session:
                session.add(Rater(name=name, token_hash=hash_token(token), held_out=bool(held_out),
                                  expires_at=_expiry(expires_in_s)))
        except IntegrityError:
            raise FeedbackError(f"a rater named {name!r} already exists; choose another name") from None
        return token

    def list_raters(self) -> list[RaterInfo]:
        """Every rater, oldest first."""
        with self.db.transaction(readonly=True) as session:
            rows = session.scalars(select(Rater).order_by(Rater.id)).all()
            return [RaterInfo(r.id, r.name, bool(r.held_out), r.created_at) for r in rows]

    def create_admin_token(self, expires_in_s: float | None = None) -> str:
        """Create an admin token; returns it (shown once, stored hashed)."""
        token = new_token()
        with self.db.transaction() as session:
            session.add(AdminToken(token_hash=hash_token(token), expires_at=_expiry(expires_in_s)))
        return token

    def authenticate_rater(self, token: str) -> RaterInfo | None:
        """The rater holding ``token``, or ``None`` for an unknown or expired token.

        A successful lookup is remembered for ``settings.auth_cache_seconds`` (never
        past the token's expiry), which spares the database one query per request.
        """
        digest = hash_token(token)
        cached = self._auth_cache.get(digest)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        with self.db.transaction(readonly=True) as session:
            row = session.scalars(select(Rater).where(Rater.token_hash == digest)).first()
            if row is None or not token_matches(token, row.token_hash):
                return None
            if row.expires_at is not None and row.expires_at <= utc_now():
                return None
            info = RaterInfo(row.id, row.name, bool(row.held_out), row.created_at)
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
        """Whether ``token`` is a valid, unexpired admin token."""
        digest = hash_token(token)
        with self.db.transaction(readonly=True) as session:
            row = session.scalars(select(AdminToken).where(AdminToken.token_hash == digest)).first()
            if row is None or not token_matches(token, row.token_hash):
                return False
            return row.expires_at is None or row.expires_at > utc_now()

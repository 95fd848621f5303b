"""Knobs of the feedback server, with defaults that work."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_CAMPAIGN = "collect"
SQLITE_FILENAME = "feedback.sqlite"


@dataclass(frozen=True)
class FeedbackSettings:
    """Limits and scheduling constants shared by the store and the routes.

    Attributes
    ----------
    notes_max_chars : int
        Longest accepted free-text note (characters).
    client_id_max_chars : int
        Longest accepted client-made submission id.
    gold_first_at : int
        A rater's first gold pair comes once they hold this many assignments.
    gold_spacing : int
        Later gold pairs come every ``gold_spacing`` assignments.
    sqlite_busy_timeout_ms : int
        How long a SQLite writer waits for the write lock before failing.
    auth_cache_seconds : float
        How long a verified rater token is remembered in memory.
    request_threads : int
        Worker threads running the (blocking) route handlers. Each request
        needs ~2 ms of CPU and the database serializes writers, so a few
        threads serve requests first come, first served; dozens of threads
        only take turns on the interpreter lock and stretch the slowest
        requests.
    media_root : Path or None
        A folder whose audio may be served even when a registered file now
        resolves there instead of inside the folder it was registered from
        (its content must still match). ``None``: only registration folders.
    expose_test_hooks : bool
        Put the rater page's test hook (``window.raterApp``) on the page; only
        the browser tests turn it on.
    """

    notes_max_chars: int = 2000
    client_id_max_chars: int = 100
    gold_first_at: int = 2
    gold_spacing: int = 5
    sqlite_busy_timeout_ms: int = 30_000
    auth_cache_seconds: float = 5.0
    request_threads: int = 4
    media_root: Path | None = None
    expose_test_hooks: bool = False


SETTINGS = FeedbackSettings()

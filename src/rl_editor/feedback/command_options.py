"""Options the feedback commands share, declared once, and the store they open.

Every command takes ``--db URL`` (SQLAlchemy URL, or a SQLite file path) or
``--manifest PATH`` (then the SQLite file ``feedback.sqlite`` beside it is used).
Commands that only read (``raters list``, ``export``, ``agreement``) refuse a
SQLite file that does not exist instead of creating an empty one.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from rl_editor.feedback.storage import FeedbackStore

DB_HELP = "Database URL (sqlite:///..., postgresql+psycopg://...) or SQLite file; default: beside the manifest."
MANIFEST_HELP = "The candidate manifest (manifest.json or its folder)."
CAMPAIGN_HELP = "Only this campaign's judgments (default: all)."
LINK_HOST_HELP = "Host shown in this link (default: the public URL, else where `serve` last listened)."
LINK_PORT_HELP = "Port shown in this link (default: the public URL, else where `serve` last listened)."
PUBLIC_URL_HELP = (
    "Address people open, e.g. https://listen.example.org; kept in the database, so every later link uses it."
)
VOTES_HELP = "Raters who judge every pair of the campaign; once a pair has them it is handed out no more."
SONGS_HELP = (
    "Song library: the folder every song raters hear must lie in (kept in the database; "
    "until chosen, the manifest's folder)."
)
QUOTA_HELP = "Most tasks one rater is handed in the campaign, gold pairs included (default: no cap)."

DbOption = Annotated[str | None, typer.Option("--db", help=DB_HELP)]
ManifestOption = Annotated[Path | None, typer.Option("--manifest", help=MANIFEST_HELP)]
RequiredManifestOption = Annotated[Path, typer.Option("--manifest", help=MANIFEST_HELP)]
CampaignJudgmentsOption = Annotated[str | None, typer.Option("--campaign", help=CAMPAIGN_HELP)]
LinkHostOption = Annotated[str | None, typer.Option("--host", help=LINK_HOST_HELP)]
LinkPortOption = Annotated[int | None, typer.Option("--port", help=LINK_PORT_HELP)]
PublicUrlOption = Annotated[str | None, typer.Option("--public-url", help=PUBLIC_URL_HELP)]
VotesPerPairOption = Annotated[int | None, typer.Option("--votes-per-pair", help=VOTES_HELP)]
SongsOption = Annotated[Path | None, typer.Option("--songs", help=SONGS_HELP)]
QuotaOption = Annotated[int | None, typer.Option("--quota", help=QUOTA_HELP)]


def open_store(db: str | None, manifest: Path | None, create: bool = True) -> FeedbackStore:
    """The feedback store of ``--db`` or ``--manifest``.

    Parameters
    ----------
    db : str or None
        SQLAlchemy URL or SQLite file path.
    manifest : Path or None
        The candidate manifest; its folder's ``feedback.sqlite`` when ``db`` is None.
    create : bool
        False for commands that only read: a mistyped ``--db`` is then an error, not a new empty database.
    """
    from rl_editor.feedback.storage import FeedbackStore

    return FeedbackStore.open(db, manifest, create=create)

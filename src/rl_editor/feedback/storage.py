"""The feedback store: raters, tasks, assignments and judgments in SQLite or PostgreSQL.

``FeedbackStore.open(None, manifest_path)`` keeps a SQLite file
(``feedback.sqlite``) beside the manifest; a ``postgresql+psycopg://`` URL uses
PostgreSQL; either way the schema comes from the Alembic migrations in
``migrations/`` (see :mod:`rl_editor.feedback.store.database`).

:class:`FeedbackStore` is one small API over the parts in
:mod:`rl_editor.feedback.store`, which share one engine and one session factory:
accounts (raters, tokens), catalog (songs, edits), planning (tasks, gold pairs,
priorities), campaigns, assignments (what next, task audio), judgments,
exchange (export, import) and summaries (the admin page). The web routes and
the CLI call the facade; each method says which part does the work.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from rl_editor.config import config_to_json
from rl_editor.feedback.audio_files import AudioVerifier
from rl_editor.feedback.listening import ListeningRequirement
from rl_editor.feedback.settings import SETTINGS, FeedbackSettings
from rl_editor.feedback.store.accounts import RaterAccounts
from rl_editor.feedback.store.assignments import AUDIO_PARTS, Assignments
from rl_editor.feedback.store.campaigns import Campaigns
from rl_editor.feedback.store.catalog import EditCatalog
from rl_editor.feedback.store.database import (
    Database,
    make_engine,
    manifest_folder,
    open_engine,
    resolve_db_url,
    upgrade_schema,
)
from rl_editor.feedback.store.errors import (
    AudioUnavailableError,
    ConflictError,
    FeedbackError,
    ForbiddenError,
    InvalidJudgmentError,
    InvalidNameError,
    NotFoundError,
    SongLibraryError,
)
from rl_editor.feedback.store.exchange import Exchange
from rl_editor.feedback.store.headphones import HeadphoneChecks, HeadphoneStatus
from rl_editor.feedback.store.judgments import Judgments
from rl_editor.feedback.store.meta import LINK_BASE_KEYS, StoredSettings
from rl_editor.feedback.store.planning import TaskPlanner
from rl_editor.feedback.store.summaries import admin_summary, campaign_coverage, campaign_judgment_count
from rl_editor.feedback.store.views import (
    PREFERENCE_CHOICES,
    RATING_LABELS,
    TIE_KINDS,
    EditView,
    ImportSummary,
    JudgmentIn,
    RaterInfo,
    SongView,
    TaskView,
)
from rl_editor.feedback.tasks import TaskConfig
from rl_editor.generate.manifest import Manifest
from rl_editor.preferences import PreferencePair

__all__ = [
    "AUDIO_PARTS",
    "LINK_BASE_KEYS",
    "PREFERENCE_CHOICES",
    "RATING_LABELS",
    "TIE_KINDS",
    "AudioUnavailableError",
    "ConflictError",
    "EditView",
    "FeedbackError",
    "FeedbackStore",
    "ForbiddenError",
    "ImportSummary",
    "InvalidJudgmentError",
    "InvalidNameError",
    "JudgmentIn",
    "NotFoundError",
    "RaterInfo",
    "SongLibraryError",
    "SongView",
    "TaskView",
    "make_engine",
    "resolve_db_url",
    "upgrade_schema",
]


class FeedbackStore:
    """All feedback data behind one small Python API (the web routes and the CLI call it).

    Parameters
    ----------
    engine : Engine
        On a schema at ``head`` (:meth:`open` makes one).
    manifest_root : Path, optional
        The manifest folder: where edits registered without a folder of their own have their audio.
    settings : FeedbackSettings
        Limits and scheduling constants.
    """

    def __init__(self, engine: Engine, manifest_root: Path | None = None, settings: FeedbackSettings = SETTINGS):
        self.db = Database(engine, settings)
        self.manifest_root = manifest_root
        self.settings = settings
        self.audio_verifier = AudioVerifier(Path(settings.media_root) if settings.media_root else None)
        self.stored_settings = StoredSettings(self.db)
        self.accounts = RaterAccounts(self.db)
        self.catalog = EditCatalog(self.db)
        self.planner = TaskPlanner(self.db)
        self.campaigns = Campaigns(self.db)
        self.assignments = Assignments(self.db, manifest_root, self.audio_verifier)
        self.judgments = Judgments(self.db)
        self.exchange = Exchange(self.db)
        self.headphones = HeadphoneChecks(self.db)

    @classmethod
    def open(
        cls,
        db_url: str | None = None,
        manifest_path: Path | None = None,
        settings: FeedbackSettings = SETTINGS,
        create: bool = True,
    ) -> FeedbackStore:
        """Open (creating or upgrading the schema) the store at ``db_url``, or beside the manifest.

        With ``create=False`` (commands that only read) a SQLite file that does not
        exist is an error instead of a new empty database.
        """
        engine = open_engine(db_url, manifest_path, settings, create)
        root = manifest_folder(manifest_path).resolve() if manifest_path is not None else None
        return cls(engine, root, settings)

    @property
    def engine(self) -> Engine:
        return self.db.engine

    def close(self) -> None:
        self.db.dispose()

    def __enter__(self) -> FeedbackStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def transaction(self, readonly: bool = False) -> AbstractContextManager[Session]:
        """A session inside one transaction, committed on success (:meth:`Database.transaction`)."""
        return self.db.transaction(readonly)

    # -- settings kept in the database (meta.StoredSettings) ---------------------------------
    def gold_per_rater(self) -> int:
        """Gold pairs each rater gets."""
        return self.stored_settings.gold_per_rater()

    def set_link_base(self, key: str, url: str) -> None:
        """Keep a base URL of printed links: ``public_url`` (set by the organiser) or ``served_url`` (by ``serve``)."""
        self.stored_settings.set_link_base(key, url)

    def link_base(self, key: str | None = None) -> str | None:
        """The stored base URL of links: ``key``'s value, or (no key) the public URL, else the served address."""
        return self.stored_settings.link_base(key)

    # -- raters and tokens (accounts.RaterAccounts) ------------------------------------------
    def add_rater(self, name: str, held_out: bool = False, expires_in_s: float | None = None) -> str:
        """Create a rater; returns their token (shown once, only its sha256 is stored)."""
        return self.accounts.add_rater(name, held_out, expires_in_s)

    def list_raters(self) -> list[RaterInfo]:
        """Every rater, oldest first."""
        return self.accounts.list_raters()

    def create_admin_token(self, expires_in_s: float | None = None) -> str:
        """Create an admin token; returns it (shown once, stored hashed)."""
        return self.accounts.create_admin_token(expires_in_s)

    def revoke_admin_tokens(self) -> int:
        """Revoke every admin token still valid; returns how many."""
        return self.accounts.revoke_admin_tokens()

    def new_rater_link(self, name: str, expires_in_s: float | None = None) -> str:
        """A new token for rater ``name``: their old link stops working, a revoked rater is let back in."""
        return self.accounts.new_link(name, expires_in_s)

    def revoke_rater(self, name: str) -> int:
        """Make rater ``name``'s link stop working and hand back the tasks they hold; returns how many."""
        self.accounts.revoke_rater(name)
        return self.assignments.release_assignments_of(self.accounts.rater_id(name))

    def deactivate_rater(self, name: str) -> int:
        """Pause rater ``name`` (their link is refused until :meth:`activate_rater`) and hand back the tasks
        they hold; returns how many."""
        return self.assignments.release_assignments_of(self.accounts.set_active(name, False))

    def activate_rater(self, name: str) -> None:
        """Let a paused rater judge again."""
        self.accounts.set_active(name, True)

    def reset_headphone_attempts(self, name: str) -> int:
        """Give rater ``name`` their headphone check attempts back (a pass is kept); returns how many were cleared."""
        return self.headphones.reset(self.accounts.rater_id(name))

    def authenticate_rater(self, token: str) -> RaterInfo | None:
        """The rater holding ``token``, or ``None`` for an unknown or expired token (briefly cached)."""
        return self.accounts.authenticate_rater(token)

    def authenticate_admin(self, token: str) -> bool:
        """Whether ``token`` is a valid, unexpired admin token."""
        return self.accounts.authenticate_admin(token)

    # -- songs, edits, tasks and campaigns (catalog, planning, campaigns) --------------------
    def register_edits(self, manifest: Manifest) -> None:
        """Record every song and candidate of ``manifest`` without making tasks (idempotent)."""
        self.catalog.register_edits(manifest)

    def song_structure(self, song_id: str) -> dict[str, Any] | None:
        """A song's bars, phrases and labelled sections as its manifest gave them, or ``None`` (older manifests)."""
        return self.catalog.song_structure(song_id)

    def edit(self, edit_id: str) -> EditView | None:
        """A stored edit, or ``None``."""
        return self.catalog.edit(edit_id)

    def has_tasks(self) -> bool:
        """Whether any task exists (a server starting on a filled database makes none)."""
        return self.planner.has_tasks()

    def create_tasks_from_manifest(self, manifest: Manifest, config: TaskConfig | None = None) -> int:
        """Make comparison (and rating, and gold) tasks for every song; returns how many are new."""
        return self.planner.create_tasks_from_manifest(manifest, config)

    def set_task_priorities(
        self, priorities: dict[tuple[str, str], float], campaign: str | None = None, create_missing: bool = False
    ) -> int:
        """Set the priority of pair tasks keyed by ``(edit_id_a, edit_id_b)``; returns how many changed."""
        return self.planner.set_task_priorities(priorities, campaign, create_missing)

    def reprioritize_campaign(self, campaign: str, priorities: dict[tuple[str, str], float]) -> int:
        """Replace the priorities of a campaign's pair tasks (unranked ones go to 0); returns how many were ranked."""
        return self.planner.reprioritize_campaign(campaign, priorities)

    def campaign_judgment_count(self, campaign: str) -> int:
        """Judgments stored in ``campaign`` (gold pairs included)."""
        return campaign_judgment_count(self.db, campaign)

    def create_campaign(
        self,
        name: str,
        pairs: list[tuple[str, str]],
        held_out_only: bool = True,
        raters_per_pair: int = 1,
        votes_per_pair: int | None = None,
        rater_quota: int | None = None,
    ) -> str:
        """A campaign of comparison tasks over ``pairs`` of edit ids; returns its name."""
        return self.campaigns.create_campaign(name, pairs, held_out_only, raters_per_pair, votes_per_pair, rater_quota)

    def set_campaign_sizing(self, name: str, votes_per_pair: int | None = None, rater_quota: int | None = None) -> None:
        """Change a campaign's votes per pair and per-rater quota (``None`` keeps a setting)."""
        self.campaigns.set_sizing(name, votes_per_pair, rater_quota)

    # -- assignment and audio (assignments.Assignments) --------------------------------------
    def next_task(self, rater_id: int) -> TaskView | None:
        """The rater's current task (the same until judged), a new one, or ``None`` when done."""
        return self.assignments.next_task_and_progress(rater_id)[0]

    def next_task_and_progress(self, rater_id: int) -> tuple[TaskView | None, int, int]:
        """:meth:`next_task` and the rater's ``(done, total)``, in one transaction."""
        return self.assignments.next_task_and_progress(rater_id)

    def upcoming_task(self, rater_id: int) -> TaskView | None:
        """The task after the rater's current one, reserved for them (at most one ahead), or ``None``."""
        return self.assignments.upcoming_task(rater_id)

    def warm_up(self, connections: int) -> int:
        """Cache the edits of open tasks and open ``connections`` pooled connections (before serving)."""
        return self.assignments.warm_up(connections)

    def progress(self, rater_id: int) -> tuple[int, int]:
        """(judged, total) for one rater."""
        return self.assignments.progress(rater_id)

    def task_audio_file(self, rater_id: int, task_id: str, part: str) -> Path:
        """The audio file of part ``original``, ``a`` or ``b`` of a task assigned to this rater."""
        return self.assignments.task_audio_file(rater_id, task_id, part)

    def record_audio_sent(
        self, rater_id: int, task_id: str, part: str, sent_file: Path, range_header: str | None = None
    ) -> None:
        """Record the bytes of ``sent_file`` a request for one task part gets (HTTP ``range_header``; ``None``: all),
        which bound that rater's listening claims."""
        self.assignments.record_audio_sent(rater_id, task_id, part, sent_file, range_header)

    def release_stale_assignments(self, older_than_s: float) -> int:
        """Hand back tasks taken but not judged within ``older_than_s`` seconds; returns how many."""
        return self.assignments.release_stale_assignments(older_than_s)

    # -- judgments (judgments.Judgments) -----------------------------------------------------
    def submit_judgment(self, rater_id: int, judgment: JudgmentIn, require_listening: bool = False) -> tuple[int, bool]:
        """Record one judgment; returns ``(judgment_id, duplicate)`` once committed.

        ``require_listening`` (web submissions): refuse one whose listening record falls short.
        """
        return self.judgments.submit_judgment(rater_id, judgment, require_listening)

    def revise_last_judgment(self, rater_id: int, judgment: JudgmentIn) -> int:
        """Replace the answer of the rater's most recent judgment (on ``judgment.task_id``); returns its id."""
        return self.judgments.revise_last_judgment(rater_id, judgment)

    def listening_requirements(self, view: TaskView) -> dict[str, ListeningRequirement]:
        """What the rater must play of each edit of a handed-out task before judging it."""
        return self.judgments.must_listen.of_view(view)

    # -- listening settings (meta.StoredSettings) --------------------------------------------
    def set_song_library(self, folder: Path, keep_existing: bool = False) -> Path:
        """Choose the folder songs must lie in (``keep_existing``: only if none is chosen); returns the library."""
        return self.stored_settings.set_song_library(folder, keep_existing)

    def song_library(self) -> Path | None:
        """The song library the organiser chose, or ``None`` (then each manifest's own folder)."""
        return self.stored_settings.song_library()

    def set_must_listen_seconds(self, seconds: float, campaign: str | None = None) -> None:
        """Seconds of each version raters must play before judging (0: off), store-wide or for one campaign."""
        self.stored_settings.set_must_listen_seconds(seconds, campaign)
        self.judgments.must_listen.forget_settings()

    def must_listen_seconds(self, campaign: str | None = None) -> float:
        """Seconds of each version raters must play before judging (0: off)."""
        return self.stored_settings.must_listen_seconds(campaign)

    def set_headphone_check(self, on: bool, campaign: str | None = None) -> None:
        """Require raters to pass the headphone check before they get tasks (store-wide or for a campaign)."""
        self.stored_settings.set_headphone_check(on, campaign)
        self.headphones.forget_settings()

    def judgment_client_ids(self) -> set[str]:
        """Every stored client id (used by the load benchmark and crash test)."""
        return self.judgments.judgment_client_ids()

    def judgments_of_rater(self, rater_id: int) -> list[dict[str, Any]]:
        """A rater's own judgments (as they answered them, not canonicalised)."""
        return self.judgments.judgments_of_rater(rater_id)

    # -- headphone check (headphones.HeadphoneChecks) -----------------------------------------
    def headphone_status(self, rater_id: int) -> HeadphoneStatus:
        """Whether the check is required, and the rater's result and attempts."""
        return self.headphones.status(rater_id)

    def may_get_tasks(self, rater_id: int) -> bool:
        """Whether a rater may be handed tasks (the headphone check is off, or they passed it)."""
        return self.headphones.may_get_tasks(rater_id)

    def start_headphone_check(self, rater_id: int) -> tuple[int, list[list[str]]]:
        """The rater's open headphone check: ``(check_id, tones of each trial)``, drawn by the server."""
        return self.headphones.start(rater_id)

    def answer_headphone_check(self, rater_id: int, check_id: int, answers: list[int]) -> HeadphoneStatus:
        """Score answers (the quietest tone's number per trial, 0-2); returns the rater's standing."""
        return self.headphones.answer(rater_id, check_id, answers)

    # -- export / import (exchange.Exchange) -------------------------------------------------
    def export_pairs(self, campaign: str | None = None, include_gold: bool = False) -> list[PreferencePair]:
        """Pairwise judgments in the preference pair format (paths as in the manifest)."""
        return self.exchange.export_pairs(campaign, include_gold)

    def export_ratings(self, campaign: str | None = None) -> list[dict[str, Any]]:
        """Absolute ratings (1-4) as JSON-ready dicts."""
        return self.exchange.export_ratings(campaign)

    def import_pairs_detailed(self, pairs: Iterable[PreferencePair]) -> ImportSummary:
        """Store preference pairs (e.g. from another server) in one transaction; counts the new and the known.

        Importing the same file twice stores nothing the second time.
        """
        return self.exchange.import_pairs_detailed(pairs)

    # -- admin summary (summaries) -----------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        """Progress per song and rater, gold failures, agreement, rater screening, headphone checks and coverage
        (the admin page's data)."""
        from rl_editor.feedback.agreement import alpha_by_campaign
        from rl_editor.feedback.screening import is_gold, screen_pairs

        pairs = self.exchange.export_pairs(include_gold=True)
        regular = [p for p in pairs if not is_gold(p)]
        summary = admin_summary(self.db, regular)
        summary["krippendorff_alpha_by_campaign"] = alpha_by_campaign(regular)
        summary["screening"] = screen_pairs(pairs).to_json()
        results = self.headphones.results()
        checks = {r.name: results.get(r.id) for r in self.list_raters()}
        for row in summary["raters"]:
            found = checks.get(row["name"])
            row["headphone_check"] = config_to_json(found) if found is not None else None
        summary["headphone_check_required"] = self.headphones.required()
        return summary

    def coverage(self) -> list[dict[str, Any]]:
        """Per campaign, how many pairs have 0, 1, 2, ... votes (:func:`~.store.summaries.campaign_coverage`)."""
        return campaign_coverage(self.db)

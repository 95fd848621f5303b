"""The feedback store: raters, tasks, assignments and judgments in SQLite or PostgreSQL.

``FeedbackStore.open(None, manifest_path)`` keeps a SQLite file
(``feedback.sqlite``) beside the manifest, in WAL mode with a busy timeout and
``synchronous=NORMAL`` (a committed judgment survives a crash of the server
process; a power cut may lose the last transactions). A
``postgresql+psycopg://`` URL uses PostgreSQL. Either way the schema comes from
the Alembic migrations shipped in ``migrations/`` (``upgrade head`` on open).

Safety under concurrency comes from the database (row locks, ``BEGIN
IMMEDIATE`` on SQLite, unique constraints), never from Python locks, so several
server processes may share one PostgreSQL database.
"""

from __future__ import annotations

import json
import logging
import random
import statistics
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Engine, bindparam, create_engine, delete, event, func, insert, select, text, update
from sqlalchemy.engine import CursorResult, Row, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from rl_editor.errors import RlEditorError
from rl_editor.feedback.audio_files import (
    AudioFile,
    AudioVerifier,
    fingerprint,
    fingerprint_columns,
    stored_fingerprint,
)
from rl_editor.feedback.auth import hash_token, new_token, token_matches
from rl_editor.feedback.models import (
    AdminToken,
    Assignment,
    Campaign,
    EditRecord,
    Judgment,
    Meta,
    Rater,
    SongRecord,
    Task,
    utc_in,
    utc_now,
)
from rl_editor.feedback.settings import DEFAULT_CAMPAIGN, SETTINGS, SQLITE_FILENAME, FeedbackSettings
from rl_editor.feedback.tasks import (
    TaskConfig,
    assign_next,
    beat_in_bar,
    broken_actions,
    new_task_id,
    overlap_targets,
    pair_key,
    plan_pairs,
    rater_progress,
)
from rl_editor.generate.manifest import Manifest, SongEntry
from rl_editor.preferences import EditRef, PreferencePair

PREFERENCE_CHOICES = ("a", "b", "tie")
TIE_KINDS = ("both_good", "both_bad")
RATING_LABELS = {1: "Poor", 2: "Okay", 3: "Good", 4: "Excellent"}
LOG = logging.getLogger("rl_editor.feedback")
LINK_BASE_KEYS = ("public_url", "served_url")  # meta keys, in the order links prefer them
_COMPUTED_EXTRA = {"tie_kind", "presented_order", "time_spent_ms", "campaign", "client_id", "judgment_id", "is_gold"}


class FeedbackError(RlEditorError):
    """A feedback-store operation that cannot be done; the message says why and what to do."""


class NotFoundError(FeedbackError, LookupError):
    """An unknown task, rater, edit or campaign."""


class ForbiddenError(FeedbackError, PermissionError):
    """A rater acting on a task that is not theirs."""


class ConflictError(FeedbackError):
    """A request that contradicts what is already stored (e.g. a task judged twice)."""


class InvalidJudgmentError(FeedbackError, ValueError):
    """A judgment whose fields do not fit its task."""


class AudioUnavailableError(NotFoundError):
    """A registered audio file that is gone, moved out of its folder, or changed since registration."""


@dataclass
class RaterInfo:
    id: int
    name: str
    held_out: bool
    created_at: str


@dataclass
class EditView:
    """One side of a task as stored (path relative to the manifest folder)."""

    edit_id: str
    song_id: str
    path: str
    actions: list[int]
    duration_seconds: float
    kind: str


@dataclass
class SongView:
    """The song of a task: its length and beat grid (seconds)."""

    song_id: str
    duration_seconds: float
    beats: list[float]
    downbeats: list[float]


@dataclass
class TaskView:
    """An assigned task as one rater sees it: ``edits`` are in the order presented (A, then B)."""

    task_id: str
    kind: str
    song_id: str
    campaign: str
    presented_order: str
    edits: list[EditView]
    song: SongView | None = None


AUDIO_PARTS = ("original", "a", "b")


@dataclass
class JudgmentIn:
    """A submission as the rater made it: ``preference`` refers to what they saw as A/B."""

    client_id: str
    task_id: str
    preference: str | None = None
    tie_kind: str | None = None
    strength: int | None = None
    rating: int | None = None
    notes: str = ""
    time_spent_ms: int | None = None


@dataclass
class ImportSummary:
    imported: int
    skipped_existing: int
    details: list[str] = field(default_factory=list)


def resolve_db_url(db_url: str | None, manifest_path: str | Path | None = None) -> str:
    """The SQLAlchemy URL to use: ``db_url`` as given (a plain file path means SQLite),
    else ``feedback.sqlite`` beside the manifest."""
    if db_url:
        if "://" in db_url:
            return db_url
        return f"sqlite:///{Path(db_url).expanduser().resolve()}"
    if manifest_path is None:
        raise FeedbackError("no database given: pass --db URL (or a SQLite file path) or --manifest PATH")
    manifest_path = Path(manifest_path)
    folder = manifest_path if manifest_path.is_dir() else manifest_path.parent
    return f"sqlite:///{(folder / SQLITE_FILENAME).resolve()}"


def _require_existing_sqlite(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        if not Path(parsed.database).is_file():
            raise FeedbackError(f"no feedback database at {parsed.database} (check --db)")


def make_engine(url: str, settings: FeedbackSettings = SETTINGS) -> Engine:
    """An engine with the pragmas/pool the store needs (WAL + busy timeout + BEGIN IMMEDIATE on SQLite)."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": settings.sqlite_busy_timeout_ms / 1000,
                                                  "check_same_thread": False},
                               pool_size=20, max_overflow=20, pool_timeout=60)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection, _record) -> None:  # pragma: no cover - exercised by every test
            dbapi_connection.isolation_level = None  # transactions are begun below, explicitly
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={int(settings.sqlite_busy_timeout_ms)}")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(connection) -> None:
            # writers take the write lock up front, so read-then-write is atomic; readers
            # (WAL) run beside them without locking
            readonly = connection.info.get("readonly", False)
            connection.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_size=20, max_overflow=20, pool_pre_ping=True, pool_timeout=60)


def upgrade_schema(engine: Engine) -> None:
    """Run the shipped Alembic migrations up to ``head`` (idempotent)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":  # several processes may open the store at once
            connection.execute(text("SELECT pg_advisory_xact_lock(715517)"))
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def _edit_view(row: EditRecord | Row[Any]) -> EditView:
    return EditView(edit_id=row.edit_id, song_id=row.song_id, path=row.path, actions=json.loads(row.actions_json),
                    duration_seconds=float(row.duration_seconds), kind=row.kind)


class FeedbackStore:
    """All feedback data behind one small Python API (the web routes and the CLI call it)."""

    def __init__(self, engine: Engine, manifest_root: Path | None = None, settings: FeedbackSettings = SETTINGS):
        self.engine = engine
        self.manifest_root = manifest_root
        self.settings = settings
        self._is_sqlite = engine.dialect.name == "sqlite"
        # Queues this process's SQLite writers so they wait in line instead of polling
        # SQLite's busy handler (whose back-off sleeps dominate latency under load).
        # Correctness never depends on it: BEGIN IMMEDIATE and the constraints hold
        # across processes too.
        self._sqlite_writer_queue = threading.Lock()
        self._auth_cache: dict[str, tuple[float, RaterInfo]] = {}
        self.audio_verifier = AudioVerifier(Path(settings.media_root) if settings.media_root else None)

    @classmethod
    def open(cls, db_url: str | None = None, manifest_path: Path | None = None,
             settings: FeedbackSettings = SETTINGS, create: bool = True) -> FeedbackStore:
        """Open (creating or upgrading the schema) the store at ``db_url``, or beside the manifest.

        With ``create=False`` (commands that only read) a SQLite file that does not
        exist is an error instead of a new empty database.
        """
        url = resolve_db_url(db_url, manifest_path)
        if not create:
            _require_existing_sqlite(url)
        engine = make_engine(url, settings)
        try:
            upgrade_schema(engine)
        except Exception as exc:
            engine.dispose()
            raise FeedbackError(f"cannot open the feedback database {engine.url.render_as_string(hide_password=True)}: "
                                f"{str(exc).splitlines()[0]}") from exc
        root = None
        if manifest_path is not None:
            manifest_path = Path(manifest_path)
            root = (manifest_path if manifest_path.is_dir() else manifest_path.parent).resolve()
        return cls(engine, root, settings)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> FeedbackStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self, readonly: bool = False) -> Iterator[Session]:
        """A session inside one transaction, committed on success.

        ``readonly`` transactions on SQLite start with a plain ``BEGIN`` (no write lock).
        """
        queue = self._sqlite_writer_queue if self._is_sqlite and not readonly else nullcontext()
        with queue, self.engine.connect() as connection:
            connection.info["readonly"] = readonly
            try:
                with Session(bind=connection, expire_on_commit=False) as session, session.begin():
                    yield session
            finally:
                connection.info.pop("readonly", None)

    # -- settings kept in the database ------------------------------------------------------
    def _get_meta(self, session: Session, key: str, default: str | None = None) -> str | None:
        row = session.get(Meta, key)
        return row.value if row is not None else default

    def _set_meta(self, session: Session, key: str, value: str) -> None:
        row = session.get(Meta, key)
        if row is None:
            session.add(Meta(key=key, value=value))
        else:
            row.value = value

    def has_tasks(self) -> bool:
        """Whether any task exists (a server starting on a filled database makes none)."""
        with self.transaction(readonly=True) as session:
            return session.scalar(select(Task.id).limit(1)) is not None

    def gold_per_rater(self) -> int:
        with self.transaction(readonly=True) as session:
            return int(self._get_meta(session, "gold_per_rater", "0") or 0)

    def set_link_base(self, key: str, url: str) -> None:
        """Keep a base URL of printed links: ``public_url`` (set by the organiser) or ``served_url`` (by ``serve``)."""
        if key not in LINK_BASE_KEYS:
            raise FeedbackError(f"unknown link setting {key!r} (one of {', '.join(LINK_BASE_KEYS)})")
        with self.transaction() as session:
            self._set_meta(session, key, url)

    def link_base(self, key: str | None = None) -> str | None:
        """The stored base URL of links: ``key``'s value, or (no key) the public URL, else the served address."""
        with self.transaction(readonly=True) as session:
            for name in (key,) if key else LINK_BASE_KEYS:
                value = self._get_meta(session, name)
                if value:
                    return value
        return None

    # -- raters and tokens ------------------------------------------------------------------
    def add_rater(self, name: str, held_out: bool = False, expires_in_s: float | None = None) -> str:
        """Create a rater; returns their token (shown once, only its sha256 is stored)."""
        name = name.strip()
        if not name or len(name) > 200:
            raise FeedbackError("rater name must be 1-200 characters")
        token = new_token()
        try:
            with self.transaction() as session:
                session.add(Rater(name=name, token_hash=hash_token(token), held_out=bool(held_out),
                                  expires_at=utc_in(expires_in_s) if expires_in_s is not None else None))
        except IntegrityError:
            raise FeedbackError(f"a rater named {name!r} already exists; choose another name") from None
        return token

    def list_raters(self) -> list[RaterInfo]:
        with self.transaction(readonly=True) as session:
            rows = session.scalars(select(Rater).order_by(Rater.id)).all()
            return [RaterInfo(r.id, r.name, bool(r.held_out), r.created_at) for r in rows]

    def create_admin_token(self, expires_in_s: float | None = None) -> str:
        """Create an admin token; returns it (shown once, stored hashed)."""
        token = new_token()
        with self.transaction() as session:
            session.add(AdminToken(token_hash=hash_token(token),
                                   expires_at=utc_in(expires_in_s) if expires_in_s is not None else None))
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
        with self.transaction(readonly=True) as session:
            row = session.scalars(select(Rater).where(Rater.token_hash == digest)).first()
            if row is None or not token_matches(token, row.token_hash):
                return None
            now = utc_now()
            if row.expires_at is not None and row.expires_at <= now:
                return None
            info = RaterInfo(row.id, row.name, bool(row.held_out), row.created_at)
        if row.expires_at is None or row.expires_at > utc_in(self.settings.auth_cache_seconds):
            if len(self._auth_cache) > 10_000:
                self._auth_cache.clear()
            self._auth_cache[digest] = (time.monotonic() + self.settings.auth_cache_seconds, info)
        return info

    def authenticate_admin(self, token: str) -> bool:
        digest = hash_token(token)
        with self.transaction(readonly=True) as session:
            row = session.scalars(select(AdminToken).where(AdminToken.token_hash == digest)).first()
            if row is None or not token_matches(token, row.token_hash):
                return False
            return row.expires_at is None or row.expires_at > utc_now()

    # -- tasks ------------------------------------------------------------------------------
    def _one_registrar_at_a_time(self, session: Session) -> None:
        """Serialize transactions that add songs, edits and tasks across processes.

        Several servers (or a server and ``tasks create``) may start on one
        PostgreSQL database at once; without this, both would insert the same
        rows and one would fail. SQLite's ``BEGIN IMMEDIATE`` already
        serializes writers.
        """
        if not self._is_sqlite:
            session.execute(text("SELECT pg_advisory_xact_lock(715518)"))

    def _ensure_campaign(self, session: Session, name: str, held_out_only: bool = False) -> None:
        if session.get(Campaign, name) is None:
            session.add(Campaign(name=name, held_out_only=held_out_only))
            session.flush()

    def _add_edit(self, session: Session, edit_id: str, song_id: str, path: str, actions: list[int],
                  duration_seconds: float, kind: str, root: Path | None = None) -> None:
        """Record an edit once; the same id with other actions (or another song) is a conflict.

        Registering an edit again from a manifest in another folder (moved) updates where its audio is.
        """
        actions_json = json.dumps([int(a) for a in actions])
        row = session.get(EditRecord, edit_id)
        if row is None:
            found = fingerprint(root / path) if root is not None else None
            session.add(EditRecord(edit_id=edit_id, song_id=song_id, path=path, actions_json=actions_json,
                                   duration_seconds=float(duration_seconds), kind=kind,
                                   root=str(root) if root is not None else None, **fingerprint_columns(found)))
            return
        if row.song_id != song_id or row.actions_json != actions_json:
            raise ConflictError(f"edit {edit_id!r} is already stored with other actions or another song; "
                                "edit ids must identify one edit (regenerate the candidates, or use another --db)")
        if root is not None and _take_fingerprint(row, root / path, f"song {song_id}: edit {edit_id}"):
            row.root, row.path = str(root), path

    def _add_song(self, session: Session, manifest: Manifest, song: SongEntry) -> None:
        """Record (or move) a song's original audio and beat grid, as ``manifest`` names them.

        A song registered earlier moves only to a file with the content it was registered with.
        """
        named = manifest.resolve(song.song)
        values = dict(audio_path=str(named), duration_seconds=float(song.duration_seconds),
                      beats_json=json.dumps([float(t) for t in song.beats]),
                      downbeats_json=json.dumps([float(t) for t in song.downbeats]))
        row = session.get(SongRecord, song.song_id)
        if row is None:
            session.add(SongRecord(song_id=song.song_id, **values, **fingerprint_columns(fingerprint(named))))
        elif _take_fingerprint(row, named, f"song {song.song_id}"):
            for key, value in values.items():
                setattr(row, key, value)

    def register_edits(self, manifest: Manifest) -> None:
        """Record every song and candidate of ``manifest`` (where their audio is), without making tasks.

        Idempotent; evaluation campaigns use it so their edits never become training tasks.
        Raises :class:`ConflictError` when an edit id is already stored with other actions.
        """
        with self.transaction() as session:
            self._one_registrar_at_a_time(session)
            self._register(session, manifest)

    def _register(self, session: Session, manifest: Manifest) -> None:
        root = manifest.root.resolve()
        for song in manifest.songs:
            self._add_song(session, manifest, song)
            for cand in song.candidates:
                self._add_edit(session, cand.edit_id, song.song_id, cand.path, cand.actions, cand.duration,
                               "candidate", root)
        session.flush()

    def create_tasks_from_manifest(self, manifest: Manifest, config: TaskConfig | None = None) -> int:
        """Make comparison (and rating, and gold) tasks for every song; returns how many are new.

        Running it again adds only what is missing, so it is safe to call on every start.
        """
        from tqdm.auto import tqdm

        config = config or TaskConfig()
        rng = random.Random(config.seed)
        created = 0
        with self.transaction() as session:
            self._one_registrar_at_a_time(session)
            self._ensure_campaign(session, config.campaign)
            self._set_meta(session, "gold_per_rater", str(int(config.gold_per_rater)))
            existing = set(session.scalars(select(Task.pair_key).where(Task.campaign == config.campaign)).all())
            self._register(session, manifest)
            for song in tqdm(manifest.songs, desc="tasks", unit="song", disable=len(manifest.songs) < 20):
                pairs = plan_pairs(song.candidates, config.pairs_per_song)
                targets = overlap_targets(len(pairs), config.raters_per_pair, config.overlap_share, rng)
                for (a, b), target in zip(pairs, targets):
                    key = pair_key("pair", a.edit_id, b.edit_id)
                    if key in existing:
                        continue
                    existing.add(key)
                    session.add(Task(id=new_task_id(), campaign=config.campaign, kind="pair", pair_key=key,
                                     song_id=song.song_id, edit_a=a.edit_id, edit_b=b.edit_id, is_gold=False,
                                     priority=0.0, target_raters=target, n_assigned=0, n_judged=0))
                    created += 1
                rated = rng.sample(song.candidates, min(config.ratings_per_song, len(song.candidates)))
                for cand in rated:
                    key = pair_key("rating", cand.edit_id, None)
                    if key in existing:
                        continue
                    existing.add(key)
                    session.add(Task(id=new_task_id(), campaign=config.campaign, kind="rating", pair_key=key,
                                     song_id=song.song_id, edit_a=cand.edit_id, edit_b=None, is_gold=False,
                                     priority=0.0, target_raters=max(1, config.raters_per_pair),
                                     n_assigned=0, n_judged=0))
                    created += 1
        created += self._make_gold_tasks(manifest, config)
        return created

    def _make_gold_tasks(self, manifest: Manifest, config: TaskConfig) -> int:
        """Render broken edits and make gold pairs (once per database); returns how many were made.

        Gold pairs put a manifest candidate against the same candidate with
        off-beat cuts (:func:`~rl_editor.feedback.tasks.broken_actions`); the
        intact one is the right answer. The broken audio is written to
        ``gold/`` beside the manifest with ``rl_editor.audio.render_edit``.
        """
        from rl_editor.audio import render_edit, save_audio

        if config.gold_per_rater <= 0 or not manifest.songs:
            return 0
        with self.transaction() as session:
            if session.scalar(select(func.count(Task.id)).where(Task.is_gold.is_(True))):
                return 0
        rng = random.Random(config.seed + 1)
        songs = [s for s in manifest.songs if s.candidates and len(s.beats) >= 8]
        rounds = -(-config.gold_per_rater // max(1, len(songs)))
        made, undecodable = [], set()
        for k in range(rounds):
            for song in songs:
                if song.song_id in undecodable:
                    continue
                cand = song.candidates[k % len(song.candidates)]
                positions = beat_in_bar(song.beats, song.downbeats)
                actions = broken_actions(cand.actions, positions, rng)
                edit_id = f"{cand.edit_id}~gold"
                rel_path = f"gold/{edit_id}.wav"
                try:
                    analysis = _analysis_from_manifest(manifest, song, positions)
                    clip = render_edit(manifest.resolve(song.song), analysis, actions)
                except Exception as exc:  # any decoder error: a broken song must not stop the server
                    reason = (str(exc).splitlines() or [type(exc).__name__])[0]
                    LOG.warning("song %s: cannot decode %s (%s); it gets no gold pair", song.song_id,
                                manifest.resolve(song.song), reason)
                    undecodable.add(song.song_id)
                    continue
                save_audio(manifest.root / rel_path, clip)
                made.append((song, cand, edit_id, rel_path, actions, float(clip.duration_seconds)))
        with self.transaction() as session:
            self._one_registrar_at_a_time(session)
            if session.scalar(select(func.count(Task.id)).where(Task.is_gold.is_(True))):
                return 0  # another process made them meanwhile
            root = manifest.root.resolve()
            for song, cand, edit_id, rel_path, actions, duration in made:
                self._add_edit(session, edit_id, song.song_id, rel_path, actions, duration, "gold", root)
                session.flush()
                session.add(Task(id=new_task_id(), campaign=config.campaign, kind="pair",
                                 pair_key=pair_key("gold", cand.edit_id, edit_id), song_id=song.song_id,
                                 edit_a=cand.edit_id, edit_b=edit_id, is_gold=True, priority=0.0,
                                 target_raters=0, n_assigned=0, n_judged=0))
        return len(made)

    def set_task_priorities(self, priorities: dict[tuple[str, str], float], campaign: str | None = None,
                            create_missing: bool = False) -> int:
        """Set the priority of pair tasks keyed by ``(edit_id_a, edit_id_b)`` (either order).

        With ``create_missing`` a ranked pair without a task becomes a new task
        in ``campaign`` (default ``collect``; both edits must be known). Returns
        how many tasks were updated or created.
        """
        campaign_name = campaign or DEFAULT_CAMPAIGN
        changed = 0
        with self.transaction() as session:
            for (edit_a, edit_b), priority in priorities.items():
                key = pair_key("pair", edit_a, edit_b)
                query = update(Task).where(Task.pair_key == key, Task.is_gold.is_(False))
                if campaign is not None:
                    query = query.where(Task.campaign == campaign)
                count = cast(CursorResult[Any], session.execute(query.values(priority=float(priority)))).rowcount
                if count == 0 and create_missing:
                    self._ensure_campaign(session, campaign_name)
                    a, b = session.get(EditRecord, edit_a), session.get(EditRecord, edit_b)
                    if a is None or b is None:
                        raise NotFoundError(f"ranking names unknown edit {edit_a if a is None else edit_b!r}; "
                                            "create tasks from the manifest that holds it first")
                    session.add(Task(id=new_task_id(), campaign=campaign_name, kind="pair", pair_key=key,
                                     song_id=a.song_id, edit_a=edit_a, edit_b=edit_b, is_gold=False,
                                     priority=float(priority), target_raters=1, n_assigned=0, n_judged=0))
                    count = 1
                changed += count
        return changed

    def create_campaign(self, name: str, pairs: list[tuple[str, str]], held_out_only: bool = True,
                        raters_per_pair: int = 1) -> str:
        """A campaign of comparison tasks over ``pairs`` of edit ids; returns its name.

        Tasks of a ``held_out_only`` campaign go only to raters marked held-out
        (and held-out raters get only such tasks), so evaluation judgments
        never mix with training data.
        """
        if not name or len(name) > 100:
            raise FeedbackError("campaign name must be 1-100 characters")
        with self.transaction() as session:
            existing = session.get(Campaign, name)
            if existing is not None and bool(existing.held_out_only) != bool(held_out_only):
                raise ConflictError(f"campaign {name!r} exists with held_out_only={existing.held_out_only}")
            self._ensure_campaign(session, name, held_out_only)
            keys = set(session.scalars(select(Task.pair_key).where(Task.campaign == name)).all())
            for edit_a, edit_b in pairs:
                a, b = session.get(EditRecord, edit_a), session.get(EditRecord, edit_b)
                if a is None or b is None:
                    raise NotFoundError(f"campaign {name!r}: unknown edit {edit_a if a is None else edit_b!r}; "
                                        "create tasks from the manifest that holds it first")
                if a.song_id != b.song_id:
                    raise FeedbackError(f"campaign {name!r}: {edit_a!r} and {edit_b!r} are edits of different songs")
                key = pair_key("pair", edit_a, edit_b)
                if key in keys:
                    continue
                keys.add(key)
                session.add(Task(id=new_task_id(), campaign=name, kind="pair", pair_key=key, song_id=a.song_id,
                                 edit_a=edit_a, edit_b=edit_b, is_gold=False, priority=0.0,
                                 target_raters=max(1, raters_per_pair), n_assigned=0, n_judged=0))
        return name

    # -- assignment and judging -------------------------------------------------------------
    def next_task(self, rater_id: int) -> TaskView | None:
        """The rater's current task (the same until judged), a new one, or ``None`` when done."""
        return self.next_task_and_progress(rater_id)[0]

    def next_task_and_progress(self, rater_id: int) -> tuple[TaskView | None, int, int]:
        """:meth:`next_task` and the rater's ``(done, total)``, in one transaction."""
        for attempt in range(5):
            try:
                with self.transaction() as session:
                    gold = int(self._get_meta(session, "gold_per_rater", "0") or 0)
                    assignment = assign_next(session, rater_id, gold, settings=self.settings)
                    view = self._task_view(session, assignment) if assignment is not None else None
                    done, total = rater_progress(session, rater_id, gold)
                    return view, done, total
            except IntegrityError:  # a concurrent request of the same rater won the race; retry
                if attempt == 4:
                    raise
        raise AssertionError("unreachable")

    def _task_view(self, session: Session, assigned) -> TaskView:
        task = session.execute(_TASK_BY_ID, {"tid": assigned.task_id}).one()
        ids = [task.edit_a] if task.edit_b is None else [task.edit_a, task.edit_b]
        if task.edit_b is not None and assigned.presented_order == "ba":
            ids.reverse()
        rows = {r.edit_id: r for r in session.execute(_EDITS_BY_ID, {"ids": ids}).all()}
        song = session.get(SongRecord, task.song_id)
        song_view = None if song is None else SongView(
            song_id=song.song_id, duration_seconds=float(song.duration_seconds),
            beats=json.loads(song.beats_json), downbeats=json.loads(song.downbeats_json))
        return TaskView(task_id=task.id, kind=task.kind, song_id=task.song_id, campaign=task.campaign,
                        presented_order=assigned.presented_order, edits=[_edit_view(rows[i]) for i in ids],
                        song=song_view)

    def task_audio_file(self, rater_id: int, task_id: str, part: str) -> Path:
        """The audio file of one part of a task assigned to this rater.

        ``part`` is ``original``, or ``a`` / ``b`` as the rater was shown them, so
        a URL names neither the file nor the edit (nothing tells a gold or an
        evaluation edit apart). Raises :class:`NotFoundError` for a task that is
        not this rater's or a part it does not have, and :class:`AudioUnavailableError`
        (naming the song) for a file that is gone, resolves outside the folder it
        was registered from (and the media root), or changed since registration.
        """
        if part not in AUDIO_PARTS:
            raise NotFoundError(f"no audio part {part!r} (one of {', '.join(AUDIO_PARTS)})")
        with self.transaction(readonly=True) as session:
            order = session.scalar(select(Assignment.presented_order)
                                   .where(Assignment.task_id == task_id, Assignment.rater_id == rater_id))
            task = session.get(Task, task_id) if order is not None else None
            if task is None:
                raise NotFoundError("no such task among yours")
            if part == "original":
                song = session.get(SongRecord, task.song_id)
                if song is None:
                    raise NotFoundError(f"song {task.song_id!r} has no registered audio")
                audio = _song_audio(song)
                return self._servable(audio, "original")
            ids = [task.edit_a] if task.edit_b is None else [task.edit_a, task.edit_b]
            if order == "ba":
                ids.reverse()
            side = "ab".index(part)
            if side >= len(ids):
                raise NotFoundError(f"this task has no edit {part.upper()}")
            edit = session.get(EditRecord, ids[side])
        if edit is None:
            raise NotFoundError(f"edit {part.upper()} of this task is not registered")
        root = Path(edit.root) if edit.root else self.manifest_root
        if root is None:
            raise NotFoundError(f"edit {part.upper()} has no audio on this server")
        audio = AudioFile(edit.song_id, root / edit.path, root, stored_fingerprint(edit))
        return self._servable(audio, f"edit {edit.edit_id}")

    def _servable(self, audio: AudioFile, what: str) -> Path:
        path = self.audio_verifier.servable_path(audio)
        if path is None:
            raise AudioUnavailableError(f"song {audio.song_id}: {what} audio {audio.named_path} is missing, lies "
                                        f"outside {audio.folder} or changed since it was registered; not served")
        return path

    def progress(self, rater_id: int) -> tuple[int, int]:
        """(judged, total) for one rater."""
        with self.transaction(readonly=True) as session:
            gold = int(self._get_meta(session, "gold_per_rater", "0") or 0)
            return rater_progress(session, rater_id, gold)

    def submit_judgment(self, rater_id: int, judgment: JudgmentIn) -> tuple[int, bool]:
        """Record one judgment; returns ``(judgment_id, duplicate)``.

        A repeated ``client_id`` returns the first record with ``duplicate=True``
        (the unique constraint makes this hold under concurrent retries). The
        function returns only after the commit.
        """
        try:
            return self._submit(rater_id, judgment)
        except IntegrityError:
            with self.transaction() as session:
                row = session.scalars(select(Judgment).where(Judgment.client_id == judgment.client_id)).first()
                if row is not None and row.rater_id == rater_id:
                    return row.id, True
            raise ConflictError(f"task {judgment.task_id} was already judged") from None

    def _submit(self, rater_id: int, j: JudgmentIn) -> tuple[int, bool]:
        with self.transaction() as session:
            existing = session.execute(_JUDGMENT_BY_CLIENT, {"cid": j.client_id}).first()
            if existing is not None:
                if existing.rater_id != rater_id:
                    raise ConflictError("client_id is already used by another submission; make a new one")
                return existing.id, True
            task = session.execute(_TASK_BY_ID, {"tid": j.task_id}).first()
            if task is None:
                raise NotFoundError(f"no task {j.task_id!r}")
            assignment = session.execute(_ASSIGNMENT_LOCKED, {"tid": j.task_id, "rid": rater_id}).first()
            if assignment is None:
                raise ForbiddenError(f"task {j.task_id} is not assigned to you")
            if assignment.judged_at is not None:
                raise ConflictError(f"task {j.task_id} is already judged (with another client_id)")
            values = dict(client_id=j.client_id, task_id=task.id, assignment_id=assignment.id, rater_id=rater_id,
                          rater_name=session.execute(_RATER_NAME, {"rid": rater_id}).scalar_one(),
                          campaign=task.campaign, kind=task.kind, song_id=task.song_id, edit_a=task.edit_a,
                          edit_b=task.edit_b, is_gold=bool(task.is_gold), preference=None, tie_kind=None,
                          strength=None, rating=None, notes=j.notes or "",
                          presented_order=assignment.presented_order if task.kind == "pair" else None,
                          time_spent_ms=j.time_spent_ms, created_at=utc_now(), source="web", extra_json="{}")
            if task.kind == "pair":
                if j.preference not in PREFERENCE_CHOICES:
                    raise InvalidJudgmentError("preference must be 'a', 'b' or 'tie' for a pair task")
                if j.strength not in (1, 2, 3):
                    raise InvalidJudgmentError("strength must be 1, 2 or 3 for a pair task")
                if j.tie_kind is not None and j.preference != "tie":
                    raise InvalidJudgmentError("tie_kind is only for preference 'tie'")
                flip = {"a": "b", "b": "a", "tie": "tie"}
                values["preference"] = flip[j.preference] if assignment.presented_order == "ba" else j.preference
                values["tie_kind"], values["strength"] = j.tie_kind, int(j.strength)
            else:
                if j.rating not in RATING_LABELS:
                    raise InvalidJudgmentError("rating must be 1 (Poor) to 4 (Excellent) for a rating task")
                values["rating"] = int(j.rating)
            judgment_id = session.execute(_INSERT_JUDGMENT, values).scalar_one()
            session.execute(_MARK_JUDGED, {"aid": assignment.id, "at": values["created_at"]})
            session.execute(_BUMP_JUDGED, {"tid": task.id})
            return judgment_id, False

    def release_stale_assignments(self, older_than_s: float) -> int:
        """Hand back tasks that raters took but did not judge within ``older_than_s`` seconds.

        The slot goes back to the queue (another rater can take it); a late
        submission for a released task is refused (403) and never recorded.
        Returns how many assignments were released.
        """
        cutoff = utc_in(-older_than_s)
        with self.transaction() as session:
            stale = session.execute(select(Assignment.id, Assignment.task_id).where(
                Assignment.judged_at.is_(None), Assignment.assigned_at < cutoff).with_for_update()).all()
            for assignment_id, task_id in stale:
                session.execute(delete(Assignment).where(Assignment.id == assignment_id))
                session.execute(update(Task).where(Task.id == task_id).values(n_assigned=Task.n_assigned - 1))
        return len(stale)

    def judgment_client_ids(self) -> set[str]:
        """Every stored client id (used by the load benchmark and crash test)."""
        with self.transaction(readonly=True) as session:
            return set(session.scalars(select(Judgment.client_id)).all())

    def judgments_of_rater(self, rater_id: int) -> list[dict[str, Any]]:
        """A rater's own judgments (as they answered them, not canonicalised)."""
        with self.transaction(readonly=True) as session:
            rows = session.scalars(select(Judgment).where(Judgment.rater_id == rater_id).order_by(Judgment.id)).all()
            return [{"judgment_id": r.id, "task_id": r.task_id, "kind": r.kind, "created_at": r.created_at,
                     "rating": r.rating, "notes": r.notes} for r in rows]

    # -- audio -------------------------------------------------------------------------------
    def edit(self, edit_id: str) -> EditView | None:
        with self.transaction(readonly=True) as session:
            row = session.get(EditRecord, edit_id)
            return _edit_view(row) if row is not None else None

    # -- export / import ---------------------------------------------------------------------
    def export_pairs(self, campaign: str | None = None, include_gold: bool = False) -> list[PreferencePair]:
        """Pairwise judgments in the preference pair format (paths as in the manifest)."""
        edit_a, edit_b = aliased(EditRecord), aliased(EditRecord)
        query = (select(Judgment, edit_a, edit_b, SongRecord.audio_path)
                 .join(edit_a, edit_a.edit_id == Judgment.edit_a)
                 .join(edit_b, edit_b.edit_id == Judgment.edit_b)
                 .outerjoin(SongRecord, SongRecord.song_id == Judgment.song_id)
                 .where(Judgment.kind == "pair").order_by(Judgment.id))
        if campaign is not None:
            query = query.where(Judgment.campaign == campaign)
        if not include_gold:
            query = query.where(Judgment.is_gold.is_(False))
        with self.transaction(readonly=True) as session:
            return [_pair_from_rows(j, a, b, song_path) for j, a, b, song_path in session.execute(query).all()]

    def export_ratings(self, campaign: str | None = None) -> list[dict[str, Any]]:
        """Absolute ratings (1-4) as JSON-ready dicts."""
        query = (select(Judgment, EditRecord).join(EditRecord, EditRecord.edit_id == Judgment.edit_a)
                 .where(Judgment.kind == "rating").order_by(Judgment.id))
        if campaign is not None:
            query = query.where(Judgment.campaign == campaign)
        with self.transaction(readonly=True) as session:
            return [{"song_id": j.song_id, "edit": _edit_view(e).__dict__, "rating": j.rating,
                     "rating_label": RATING_LABELS.get(j.rating or 0), "rater": j.rater_name, "timestamp": j.created_at,
                     "notes": j.notes, "campaign": j.campaign, "task_id": j.task_id, "time_spent_ms": j.time_spent_ms}
                    for j, e in session.execute(query).all()]

    def import_pairs(self, pairs: Iterable[PreferencePair]) -> int:
        """Store preference pairs (e.g. from another server); returns how many were new.

        All of them go in one transaction. Each entry's client id is its
        ``client_id`` key if present, else derived from the entry's content, so
        importing the same file twice stores nothing the second time.
        """
        return self.import_pairs_detailed(pairs).imported

    def import_pairs_detailed(self, pairs: Iterable[PreferencePair]) -> ImportSummary:
        pairs = list(pairs)
        summary = ImportSummary(0, 0)
        with self.transaction() as session:
            seen: set[str] = set()
            for index, pair in enumerate(pairs):
                client_id = _import_client_id(pair)
                if client_id in seen or session.scalars(
                        select(Judgment.id).where(Judgment.client_id == client_id)).first() is not None:
                    summary.skipped_existing += 1
                    continue
                seen.add(client_id)
                campaign = str(pair.extra.get("campaign") or DEFAULT_CAMPAIGN)
                self._ensure_campaign(session, campaign)
                ids = []
                for side in (pair.edit_a, pair.edit_b):
                    edit_id = str(side.extra.get("edit_id") or _derived_edit_id(pair.song_id, side))
                    try:
                        self._add_edit(session, edit_id, pair.song_id, side.path, side.actions,
                                       side.duration_seconds, "imported")
                    except ConflictError as exc:
                        raise ConflictError(f"entry {index}: {exc}") from None
                    ids.append(edit_id)
                tie_kind = pair.extra.get("tie_kind") if pair.extra.get("tie_kind") in TIE_KINDS else None
                order = pair.extra.get("presented_order") if pair.extra.get("presented_order") in ("ab", "ba") else None
                spent = pair.extra.get("time_spent_ms")
                spent = int(spent) if isinstance(spent, (int, float)) and not isinstance(spent, bool) else None
                extra = {k: v for k, v in pair.extra.items() if k not in _COMPUTED_EXTRA}
                session.add(Judgment(client_id=client_id, task_id=None, assignment_id=None, rater_id=None,
                                     rater_name=pair.rater, campaign=campaign, kind="pair", song_id=pair.song_id,
                                     edit_a=ids[0], edit_b=ids[1], is_gold=bool(pair.extra.get("is_gold", False)),
                                     preference=pair.preference, tie_kind=tie_kind, strength=pair.strength,
                                     rating=None, notes=pair.notes, presented_order=order, time_spent_ms=spent,
                                     created_at=pair.timestamp, source="import", extra_json=json.dumps(extra)))
                session.flush()
                summary.imported += 1
        return summary

    # -- admin summary -----------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        """Progress per song and rater, gold failures and agreement (the admin page's data)."""
        from rl_editor.feedback.agreement import agreement_report

        pairs = self.export_pairs()
        report = agreement_report(pairs)
        with self.transaction(readonly=True) as session:
            songs = session.execute(
                select(Task.song_id, func.sum(Task.n_judged), func.sum(Task.target_raters))
                .where(Task.is_gold.is_(False)).group_by(Task.song_id).order_by(Task.song_id)).all()
            raters = session.scalars(select(Rater).order_by(Rater.id)).all()
            judgments = session.execute(select(Judgment.rater_id, Judgment.time_spent_ms, Judgment.is_gold,
                                               Judgment.preference).where(Judgment.rater_id.is_not(None))).all()
        by_rater: dict[int, list] = {}
        for row in judgments:
            by_rater.setdefault(row.rater_id, []).append(row)
        rater_rows = []
        for r in raters:
            rows = by_rater.get(r.id, [])
            times = [x.time_spent_ms for x in rows if x.time_spent_ms is not None]
            gold = [x for x in rows if x.is_gold]
            rater_rows.append({
                "name": r.name, "held_out": bool(r.held_out), "done": len(rows),
                "median_time_ms": statistics.median(times) if times else None,
                "gold_failures": sum(1 for x in gold if x.preference != "a"), "gold_total": len(gold),
                "agreement_with_majority": report.per_rater_agreement.get(r.name),
            })
        return {
            "songs": [{"song_id": s, "done": int(d or 0), "total": int(t or 0)} for s, d, t in songs],
            "raters": rater_rows,
            "agreement": {"krippendorff_alpha": report.krippendorff_alpha, "raw_agreement": report.raw_agreement,
                          "position_bias_a_share": report.position_bias_a_share,
                          "n_pairs_multi_rated": report.n_pairs_multi_rated},
        }


_J, _TT, _AA, _RR = Judgment.__table__, Task.__table__, Assignment.__table__, Rater.__table__
_JUDGMENT_BY_CLIENT = select(_J.c.id, _J.c.rater_id).where(_J.c.client_id == bindparam("cid"))
_TASK_BY_ID = select(_TT).where(_TT.c.id == bindparam("tid"))
_ASSIGNMENT_LOCKED = (select(_AA.c.id, _AA.c.presented_order, _AA.c.judged_at)
                      .where(_AA.c.task_id == bindparam("tid"), _AA.c.rater_id == bindparam("rid")).with_for_update())
_EDITS_BY_ID = select(EditRecord.__table__).where(EditRecord.edit_id.in_(bindparam("ids", expanding=True)))
_RATER_NAME = select(_RR.c.name).where(_RR.c.id == bindparam("rid"))
_INSERT_JUDGMENT = insert(_J).returning(_J.c.id)
_MARK_JUDGED = update(_AA).where(_AA.c.id == bindparam("aid")).values(judged_at=bindparam("at"))
_BUMP_JUDGED = update(_TT).where(_TT.c.id == bindparam("tid")).values(n_judged=_TT.c.n_judged + 1)


def _song_audio(song: SongRecord) -> AudioFile:
    """A song's original as registered: it must stay in the folder its file resolved into."""
    registered = stored_fingerprint(song)
    named = Path(song.audio_path)
    folder = Path(registered.resolved_path).parent if registered is not None else named.parent
    return AudioFile(song.song_id, named, folder, registered)


def _take_fingerprint(row: SongRecord | EditRecord, named: Path, what: str) -> bool:
    """Fingerprint ``named`` for a registered row; whether the row may now point at it.

    A row without a fingerprint takes the file's; a fingerprinted row accepts
    only a file with its registered content (moved, or touched). A file that
    changed is logged and left out: the row keeps its registration, and the
    server refuses to serve it until the registered content is back.
    """
    registered = stored_fingerprint(row)
    found = fingerprint(named, known=registered)
    if registered is not None and (found is None or found.content_sha256 != registered.content_sha256):
        LOG.warning("%s: %s is missing or differs from the registered audio; keeping the registration", what, named)
        return False
    for key, value in fingerprint_columns(found).items():
        setattr(row, key, value)
    return True


def _pair_from_rows(j: Judgment, a: EditRecord, b: EditRecord, song_path: str | None = None) -> PreferencePair:
    extra: dict[str, Any] = json.loads(j.extra_json or "{}")
    if song_path and not extra.get("song_path"):
        extra["song_path"] = song_path
    extra.update({"tie_kind": j.tie_kind, "presented_order": j.presented_order, "time_spent_ms": j.time_spent_ms,
                  "campaign": j.campaign, "client_id": j.client_id})
    if j.task_id is not None:
        extra["task_id"] = j.task_id
    if j.is_gold:
        extra["is_gold"] = True
    return PreferencePair(
        song_id=j.song_id,
        edit_a=EditRef(a.path, json.loads(a.actions_json), float(a.duration_seconds), {"edit_id": a.edit_id}),
        edit_b=EditRef(b.path, json.loads(b.actions_json), float(b.duration_seconds), {"edit_id": b.edit_id}),
        preference=cast(str, j.preference), strength=int(j.strength or 1), rater=j.rater_name, timestamp=j.created_at,
        notes=j.notes or "", extra=extra,
    )


def _import_client_id(pair: PreferencePair) -> str:
    given = pair.extra.get("client_id")
    if isinstance(given, str) and given:
        return given[:100]
    import hashlib

    payload = json.dumps(pair.to_json(), sort_keys=True, separators=(",", ":"))
    return "import-" + hashlib.sha256(payload.encode()).hexdigest()[:48]


def _derived_edit_id(song_id: str, side: EditRef) -> str:
    import hashlib

    payload = json.dumps([song_id, side.path, list(map(int, side.actions))], separators=(",", ":"))
    return f"{song_id}~{hashlib.sha256(payload.encode()).hexdigest()[:16]}"


def _analysis_from_manifest(manifest: Manifest, song, positions):
    """A ``SongAnalysis`` built from the manifest's beat grid (enough for rendering)."""
    import numpy as np
    import soundfile as sf

    from rl_editor.audio.feature_layout import FEATURE_DIM
    from rl_editor.audio.song import SongAnalysis

    info = sf.info(str(manifest.resolve(song.song)))
    beats = np.asarray(song.beats, dtype=float)
    return SongAnalysis(song_id=song.song_id, path=str(manifest.resolve(song.song)), content_sha256="",
                        sample_rate=int(info.samplerate), source_sample_rate=int(info.samplerate),
                        channels=int(info.channels), duration_seconds=float(song.duration_seconds), tempo_bpm=0.0,
                        beat_times_s=beats, beat_in_bar=np.asarray(positions), beats_per_bar=4,
                        features=np.zeros((beats.size, FEATURE_DIM), dtype=np.float32))

"""One engine and one session factory, shared by every part of the feedback store.

``open_database(None, manifest_path)`` keeps a SQLite file (``feedback.sqlite``)
beside the manifest, in WAL mode with a busy timeout and ``synchronous=NORMAL``
(a committed judgment survives a crash of the server process; a power cut may
lose the last transactions). A ``postgresql+psycopg://`` URL uses PostgreSQL.
Either way the schema comes from the Alembic migrations shipped in
``feedback/migrations/`` (``upgrade head`` on open).

Safety under concurrency comes from the database (row locks, ``BEGIN
IMMEDIATE`` on SQLite, unique constraints), never from Python locks, so several
server processes may share one PostgreSQL database.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from rl_editor.feedback.settings import SETTINGS, SQLITE_FILENAME, FeedbackSettings
from rl_editor.feedback.store.errors import FeedbackError

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def resolve_db_url(db_url: str | None, manifest_path: str | Path | None = None) -> str:
    """The SQLAlchemy URL to use: ``db_url`` as given (a plain file path means SQLite),
    else ``feedback.sqlite`` beside the manifest."""
    if db_url:
        if "://" in db_url:
            return db_url
        return f"sqlite:///{Path(db_url).expanduser().resolve()}"
    if manifest_path is None:
        raise FeedbackError("no database given: pass --db URL (or a SQLite file path) or --manifest PATH")
    return f"sqlite:///{(manifest_folder(manifest_path) / SQLITE_FILENAME).resolve()}"


def manifest_folder(manifest_path: str | Path) -> Path:
    """The folder of a manifest (given as its file or its folder)."""
    manifest_path = Path(manifest_path)
    return manifest_path if manifest_path.is_dir() else manifest_path.parent


def require_existing_sqlite(url: str) -> None:
    """Raise :class:`FeedbackError` when ``url`` names a SQLite file that does not exist."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        if not Path(parsed.database).is_file():
            raise FeedbackError(f"no feedback database at {parsed.database} (check --db)")


def make_engine(url: str, settings: FeedbackSettings = SETTINGS) -> Engine:
    """An engine with the pragmas/pool the store needs (WAL + busy timeout + BEGIN IMMEDIATE on SQLite)."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"timeout": settings.sqlite_busy_timeout_ms / 1000, "check_same_thread": False},
            pool_size=20,
            max_overflow=20,
            pool_timeout=60,
        )

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
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":  # several processes may open the store at once
            connection.execute(text("SELECT pg_advisory_xact_lock(715517)"))
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def open_engine(
    db_url: str | None, manifest_path: Path | None, settings: FeedbackSettings, create: bool = True
) -> Engine:
    """An engine on an up-to-date schema at ``db_url`` (or beside the manifest).

    With ``create=False`` a SQLite file that does not exist is an error instead of a new empty database.
    """
    url = resolve_db_url(db_url, manifest_path)
    if not create:
        require_existing_sqlite(url)
    engine = make_engine(url, settings)
    try:
        upgrade_schema(engine)
    except Exception as exc:
        engine.dispose()
        raise FeedbackError(
            f"cannot open the feedback database {engine.url.render_as_string(hide_password=True)}: "
            f"{str(exc).splitlines()[0]}"
        ) from exc
    return engine


class Database:
    """The engine, the store's settings and its transactions; every part of the store holds the same one.

    Parameters
    ----------
    engine : Engine
        From :func:`make_engine`, on a schema at ``head``.
    settings : FeedbackSettings
        Limits and scheduling constants.
    """

    def __init__(self, engine: Engine, settings: FeedbackSettings = SETTINGS):
        self.engine = engine
        self.settings = settings
        self.is_sqlite = engine.dialect.name == "sqlite"
        # Queues this process's SQLite writers so they wait in line instead of polling
        # SQLite's busy handler (whose back-off sleeps dominate latency under load).
        # Correctness never depends on it: BEGIN IMMEDIATE and the constraints hold
        # across processes too.
        self._sqlite_writer_queue = threading.Lock()

    @contextmanager
    def transaction(self, readonly: bool = False) -> Iterator[Session]:
        """A session inside one transaction, committed on success.

        ``readonly`` transactions on SQLite start with a plain ``BEGIN`` (no write lock).
        """
        queue = self._sqlite_writer_queue if self.is_sqlite and not readonly else nullcontext()
        with queue, self.engine.connect() as connection:
            connection.info["readonly"] = readonly
            try:
                with Session(bind=connection, expire_on_commit=False) as session, session.begin():
                    yield session
            finally:
                connection.info.pop("readonly", None)

    def one_registrar_at_a_time(self, session: Session) -> None:
        """Serialize transactions that add songs, edits and tasks across processes.

        Several servers (or a server and ``tasks create``) may start on one
        PostgreSQL database at once; without this, both would insert the same
        rows and one would fail. SQLite's ``BEGIN IMMEDIATE`` already
        serializes writers.
        """
        if not self.is_sqlite:
            session.execute(text("SELECT pg_advisory_xact_lock(715518)"))

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

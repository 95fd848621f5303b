"""The Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from rl_editor.feedback.models import Base
from rl_editor.feedback.storage import FeedbackStore


def test_migrated_schema_matches_the_models(db_url):
    with FeedbackStore.open(db_url) as store:
        with store.engine.connect() as connection:
            context = MigrationContext.configure(connection)
            assert context.get_current_revision() == "0007"
            assert compare_metadata(context, Base.metadata) == []
    with FeedbackStore.open(db_url) as store:  # opening again is a no-op upgrade
        assert store.list_raters() == []


def test_sqlite_store_uses_wal_and_a_busy_timeout(tmp_path, manifest_path):
    with FeedbackStore.open(None, manifest_path) as store:
        assert str(store.engine.url).endswith(f"{manifest_path.parent}/feedback.sqlite")
        with store.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000


def test_a_database_of_the_first_schema_upgrades_and_keeps_its_data(tmp_path, manifest_path):
    from pathlib import Path

    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine, text

    import rl_editor.feedback.storage as storage

    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    engine = create_engine(url)
    config = Config()
    config.set_main_option("script_location", str(Path(storage.__file__).parent / "migrations"))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
        connection.execute(
            text(
                "INSERT INTO raters (name, token_hash, held_out, created_at) "
                "VALUES ('old-rater', 'x', 0, '2026-01-01T00:00:00Z')"
            )
        )
    engine.dispose()
    with FeedbackStore.open(url, manifest_path) as store:
        assert [r.name for r in store.list_raters()] == ["old-rater"]
        from rl_editor.generate.manifest import Manifest

        store.register_edits(Manifest.load(manifest_path))
        assert store.edit("song0-t0.0-0") is not None

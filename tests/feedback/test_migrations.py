"""The Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from alembic.migration import MigrationContext
from alembic.autogenerate import compare_metadata

from rl_editor.feedback.models import Base
from rl_editor.feedback.storage import FeedbackStore


def test_migrated_schema_matches_the_models(db_url):
    with FeedbackStore.open(db_url) as store:
        with store.engine.connect() as connection:
            context = MigrationContext.configure(connection)
            assert context.get_current_revision() == "0001"
            assert compare_metadata(context, Base.metadata) == []
    with FeedbackStore.open(db_url) as store:  # opening again is a no-op upgrade
        assert store.list_raters() == []


def test_sqlite_store_uses_wal_and_a_busy_timeout(tmp_path, manifest_path):
    with FeedbackStore.open(None, manifest_path) as store:
        assert str(store.engine.url).endswith(f"{manifest_path.parent}/feedback.sqlite")
        with store.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000

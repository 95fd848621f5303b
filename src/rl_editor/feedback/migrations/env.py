"""Alembic environment for the feedback store (SQLite and PostgreSQL alike).

``FeedbackStore.open`` runs ``upgrade head`` itself, passing its connection in
``config.attributes["connection"]``; the ``alembic`` command line works too
with ``-x url=...``.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from rl_editor.errors import RlEditorError
from rl_editor.feedback.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RlEditorError("alembic: no database to migrate; pass -x url=... (an SQLAlchemy URL)")
    engine = create_engine(url)
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()

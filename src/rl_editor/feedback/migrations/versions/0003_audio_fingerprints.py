"""Fingerprints of every registered audio file: resolved path, sha256, size and mtime.

The server serves a song or an edit only while its file still resolves inside
the folder it was registered from and still has the content it had then; the
size and mtime let it skip re-hashing files that did not change. Rows
registered before this revision have no fingerprint until their manifest is
registered again.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TABLES = ("songs", "edits")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("resolved_path", sa.String(1000), nullable=True))
            batch.add_column(sa.Column("content_sha256", sa.String(64), nullable=True))
            batch.add_column(sa.Column("size_bytes", sa.BigInteger(), nullable=True))
            batch.add_column(sa.Column("mtime_ns", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            for column in ("mtime_ns", "size_bytes", "content_sha256", "resolved_path"):
                batch.drop_column(column)

"""Songs table (original audio and beat grid) and the manifest folder of each edit.

With them the database alone says which files may be served for a task, so
edits of several manifests (training candidates, evaluation campaigns) can
share one database.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "songs",
        sa.Column("song_id", sa.String(300), primary_key=True),
        sa.Column("audio_path", sa.String(1000), nullable=False),
        sa.Column("duration_seconds", sa.Float(), nullable=False),
        sa.Column("beats_json", sa.Text(), nullable=False),
        sa.Column("downbeats_json", sa.Text(), nullable=False),
    )
    with op.batch_alter_table("edits") as batch:
        batch.add_column(sa.Column("root", sa.String(1000), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("edits") as batch:
        batch.drop_column("root")
    op.drop_table("songs")

"""What the server sent of each task's audio, so listening claims can be checked against it.

``served_audio`` keeps, per task, rater and part (``a``, ``b`` as shown, or
``original``), the file's size and duration when it was sent and the byte
ranges sent so far (merged, JSON). Judgments made before this revision have
none, and are left as they are.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "served_audio",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("task_id", sa.String(36), sa.ForeignKey("tasks.id"), nullable=False),
        sa.Column("rater_id", sa.Integer(), sa.ForeignKey("raters.id"), nullable=False),
        sa.Column("part", sa.String(10), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.Column("ranges_json", sa.Text(), nullable=False),
        sa.Column("first_served_at", sa.String(40), nullable=False),
        sa.UniqueConstraint("task_id", "rater_id", "part", name="uq_served_audio_task_rater_part"),
    )


def downgrade() -> None:
    op.drop_table("served_audio")

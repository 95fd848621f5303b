"""What raters listened to: seconds per version with each judgment, headphone checks, song structure.

``judgments`` gains the seconds the rater played of edit A, edit B and the
original (empty for judgments made before this revision, and for imports that
did not carry them). ``headphone_checks`` keeps every attempt at the antiphase
headphone check with the trials the server drew. ``songs`` gains the song's
structure (bars, phrases, labelled sections) for the rater page.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

LISTENED = ("listened_a_s", "listened_b_s", "listened_original_s")


def upgrade() -> None:
    with op.batch_alter_table("judgments") as batch:
        for column in LISTENED:
            batch.add_column(sa.Column(column, sa.Float(), nullable=True))
    with op.batch_alter_table("songs") as batch:
        batch.add_column(sa.Column("structure_json", sa.Text(), nullable=True))
    op.create_table(
        "headphone_checks",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("rater_id", sa.Integer(), sa.ForeignKey("raters.id"), nullable=False),
        sa.Column("trials_json", sa.Text(), nullable=False),
        sa.Column("answers_json", sa.Text(), nullable=True),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("passed", sa.Boolean(), nullable=True),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("answered_at", sa.String(40), nullable=True),
    )
    op.create_index("ix_headphone_checks_rater_id", "headphone_checks", ["rater_id"])


def downgrade() -> None:
    op.drop_index("ix_headphone_checks_rater_id", table_name="headphone_checks")
    op.drop_table("headphone_checks")
    with op.batch_alter_table("songs") as batch:
        batch.drop_column("structure_json")
    with op.batch_alter_table("judgments") as batch:
        for column in reversed(LISTENED):
            batch.drop_column(column)

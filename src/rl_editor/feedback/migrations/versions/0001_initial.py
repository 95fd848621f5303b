"""Initial feedback schema: raters, admin tokens, settings, campaigns, edits, tasks, assignments, judgments.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "raters",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("held_out", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("expires_at", sa.String(40), nullable=True),
    )
    op.create_table(
        "admin_tokens",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("expires_at", sa.String(40), nullable=True),
    )
    op.create_table(
        "meta",
        sa.Column("key", sa.String(100), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
    )
    op.create_table(
        "campaigns",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("held_out_only", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "edits",
        sa.Column("edit_id", sa.String(300), primary_key=True),
        sa.Column("song_id", sa.String(300), nullable=False),
        sa.Column("path", sa.String(1000), nullable=False),
        sa.Column("actions_json", sa.Text(), nullable=False),
        sa.Column("duration_seconds", sa.Float(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
    )
    op.create_index("ix_edits_song_id", "edits", ["song_id"])
    op.create_table(
        "tasks",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("campaign", sa.String(100), sa.ForeignKey("campaigns.name"), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("pair_key", sa.String(700), nullable=False),
        sa.Column("song_id", sa.String(300), nullable=False),
        sa.Column("edit_a", sa.String(300), sa.ForeignKey("edits.edit_id"), nullable=False),
        sa.Column("edit_b", sa.String(300), sa.ForeignKey("edits.edit_id"), nullable=True),
        sa.Column("is_gold", sa.Boolean(), nullable=False),
        sa.Column("priority", sa.Float(), nullable=False),
        sa.Column("target_raters", sa.Integer(), nullable=False),
        sa.Column("n_assigned", sa.Integer(), nullable=False),
        sa.Column("n_judged", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.UniqueConstraint("campaign", "pair_key", name="uq_tasks_campaign_pair"),
    )
    op.create_index("ix_tasks_schedule", "tasks", ["campaign", "is_gold", "n_assigned"])
    op.create_table(
        "assignments",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("task_id", sa.String(36), sa.ForeignKey("tasks.id"), nullable=False),
        sa.Column("rater_id", sa.Integer(), sa.ForeignKey("raters.id"), nullable=False),
        sa.Column("presented_order", sa.String(2), nullable=False),
        sa.Column("assigned_at", sa.String(40), nullable=False),
        sa.Column("judged_at", sa.String(40), nullable=True),
        sa.UniqueConstraint("task_id", "rater_id", name="uq_assignments_task_rater"),
    )
    op.create_index("ix_assignments_rater_open", "assignments", ["rater_id", "judged_at"])
    op.create_table(
        "judgments",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("client_id", sa.String(100), nullable=False, unique=True),
        sa.Column("task_id", sa.String(36), sa.ForeignKey("tasks.id"), nullable=True),
        sa.Column("assignment_id", sa.Integer(), sa.ForeignKey("assignments.id"), nullable=True, unique=True),
        sa.Column("rater_id", sa.Integer(), sa.ForeignKey("raters.id"), nullable=True),
        sa.Column("rater_name", sa.String(200), nullable=False),
        sa.Column("campaign", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("song_id", sa.String(300), nullable=False),
        sa.Column("edit_a", sa.String(300), nullable=False),
        sa.Column("edit_b", sa.String(300), nullable=True),
        sa.Column("is_gold", sa.Boolean(), nullable=False),
        sa.Column("preference", sa.String(3), nullable=True),
        sa.Column("tie_kind", sa.String(10), nullable=True),
        sa.Column("strength", sa.Integer(), nullable=True),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("presented_order", sa.String(2), nullable=True),
        sa.Column("time_spent_ms", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("source", sa.String(10), nullable=False),
        sa.Column("extra_json", sa.Text(), nullable=False),
    )
    op.create_index("ix_judgments_campaign", "judgments", ["campaign"])


def downgrade() -> None:
    for name in ("judgments", "assignments", "tasks", "edits", "campaigns", "meta", "admin_tokens", "raters"):
        op.drop_table(name)

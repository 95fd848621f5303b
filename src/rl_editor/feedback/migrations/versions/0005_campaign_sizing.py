"""Campaign sizing: votes per pair and a per-rater quota, kept with each campaign.

``votes_per_pair`` is how many raters judge each of the campaign's pairs (its
tasks' ``target_raters``; empty: each task keeps its own); ``rater_quota`` caps
the tasks one rater is handed in the campaign (empty: no cap). Existing
campaigns get neither, so they behave as before.

Revision ID: 0005
Revises: 0003
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("votes_per_pair", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("rater_quota", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("rater_quota")
        batch.drop_column("votes_per_pair")

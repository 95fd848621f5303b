"""Revoking tokens and deactivating raters.

``raters`` gains ``revoked_at`` (the rater's link no longer opens; a new link
clears it) and ``deactivated_at`` (the rater is paused: their link is refused
until they are activated again); ``admin_tokens`` gains ``revoked_at``. Existing
rows get neither, so every token keeps working as before.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("raters") as batch:
        batch.add_column(sa.Column("revoked_at", sa.String(40), nullable=True))
        batch.add_column(sa.Column("deactivated_at", sa.String(40), nullable=True))
    with op.batch_alter_table("admin_tokens") as batch:
        batch.add_column(sa.Column("revoked_at", sa.String(40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("admin_tokens") as batch:
        batch.drop_column("revoked_at")
    with op.batch_alter_table("raters") as batch:
        batch.drop_column("deactivated_at")
        batch.drop_column("revoked_at")

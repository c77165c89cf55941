"""Per-user token revocation floor (tokens issued before `not_before` are void).

Revision ID: 0002_token_revocations
Revises: 0001_users
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_token_revocations"
down_revision = "0001_users"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "token_revocations",
        sa.Column("user_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("not_before", sa.BigInteger(), nullable=False),
        sa.Column("set_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name="pk_token_revocations"),
    )
    op.create_index("ix_token_revocations_set_at", "token_revocations", ["set_at"])


def downgrade() -> None:
    op.drop_index("ix_token_revocations_set_at", table_name="token_revocations")
    op.drop_table("token_revocations")

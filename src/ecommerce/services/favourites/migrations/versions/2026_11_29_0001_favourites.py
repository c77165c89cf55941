"""Favourites, one per user and product.

Revision ID: 0001_favourites
Revises:
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0001_favourites"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "favourites",
        sa.Column("user_id", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("product_id", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("like_date", sa.DateTime(), server_default=sa.text("CURRENT_TIMESTAMP"), nullable=False),
        sa.Column("created_at", sa.DateTime(), server_default=sa.text("CURRENT_TIMESTAMP"), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("user_id", "product_id", name="pk_favourites"),
    )
    op.create_index("ix_favourites_product_id", "favourites", ["product_id"])


def downgrade() -> None:
    op.drop_index("ix_favourites_product_id", table_name="favourites")
    op.drop_table("favourites")

"""Ids never reused on SQLite: categories numbered with AUTOINCREMENT.

Revision ID: 0004_ids
Revises: 0003_history
Create Date: 2026-12-07
"""

from alembic import op

from ecommerce.chassis import never_reuse_ids

revision = "0004_ids"
down_revision = "0003_history"
branch_labels = None
depends_on = None


def upgrade() -> None:
    never_reuse_ids(op, "categories")


def downgrade() -> None:
    pass  # AUTOINCREMENT only stops ids coming back; nothing to undo

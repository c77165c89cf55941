"""Ids never reused on SQLite: carts and orders numbered with AUTOINCREMENT.

Revision ID: 0003_ids
Revises: 0002_events
Create Date: 2026-12-07
"""

from alembic import op

from ecommerce.chassis import never_reuse_ids

revision = "0003_ids"
down_revision = "0002_events"
branch_labels = None
depends_on = None


def upgrade() -> None:
    never_reuse_ids(op, "carts", "orders")


def downgrade() -> None:
    pass  # AUTOINCREMENT only stops ids coming back; nothing to undo

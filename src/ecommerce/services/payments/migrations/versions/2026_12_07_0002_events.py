"""Events: the outbox and the inbox; payment ids never reused on SQLite.

Revision ID: 0002_events
Revises: 0001_payments
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

from ecommerce.chassis import create_event_tables, inbox_table, never_reuse_ids, outbox_table

revision = "0002_events"
down_revision = "0001_payments"
branch_labels = None
depends_on = None


def upgrade() -> None:
    never_reuse_ids(op, "payments")
    metadata = sa.MetaData()
    create_event_tables(op, outbox_table(metadata), inbox_table(metadata))


def downgrade() -> None:
    op.drop_table("processed_events")
    op.drop_table("outbox_events")

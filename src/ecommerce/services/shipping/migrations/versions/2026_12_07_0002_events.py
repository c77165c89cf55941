"""Events: the inbox.

Revision ID: 0002_events
Revises: 0001_shipping
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

from ecommerce.chassis import create_event_tables, inbox_table

revision = "0002_events"
down_revision = "0001_shipping"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_event_tables(op, inbox_table(sa.MetaData()))


def downgrade() -> None:
    op.drop_table("processed_events")

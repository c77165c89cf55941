"""Events: the outbox (ShipmentShipped, ShipmentDelivered -> order-service).

Revision ID: 0003_outbox
Revises: 0002_events
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

from ecommerce.chassis import create_event_tables, outbox_table

revision = "0003_outbox"
down_revision = "0002_events"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_event_tables(op, outbox_table(sa.MetaData()))


def downgrade() -> None:
    op.drop_table("outbox_events")

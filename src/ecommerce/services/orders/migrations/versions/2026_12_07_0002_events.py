"""Events (the outbox and the inbox) and the product title kept on each order line.

Revision ID: 0002_events
Revises: 0001_orders
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

from ecommerce.chassis import create_event_tables, inbox_table, outbox_table

revision = "0002_events"
down_revision = "0001_orders"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("order_lines") as batch:
        batch.add_column(sa.Column("product_title", sa.String(255), nullable=True))
    metadata = sa.MetaData()
    create_event_tables(op, outbox_table(metadata), inbox_table(metadata))


def downgrade() -> None:
    op.drop_table("processed_events")
    op.drop_table("outbox_events")
    with op.batch_alter_table("order_lines") as batch:
        batch.drop_column("product_title")

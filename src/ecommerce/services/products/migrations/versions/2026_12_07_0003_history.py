"""Products keep their history: retired instead of deleted, ids never reused on SQLite; the events inbox.

Revision ID: 0003_history
Revises: 0002_reservations
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

from ecommerce.chassis import create_event_tables, inbox_table, never_reuse_ids

revision = "0003_history"
down_revision = "0002_reservations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    never_reuse_ids(op, "products")
    with op.batch_alter_table("products") as batch:
        batch.add_column(sa.Column("retired_at", sa.DateTime(), nullable=True))
    create_event_tables(op, inbox_table(sa.MetaData()))


def downgrade() -> None:
    op.drop_table("processed_events")
    with op.batch_alter_table("products") as batch:
        batch.drop_column("retired_at")

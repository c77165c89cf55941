"""Products get a description (shown on the product page; the demo catalog has one for each product).

Revision ID: 0005_description
Revises: 0004_ids
Create Date: 2026-12-09
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_description"
down_revision = "0004_ids"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("products") as batch:
        batch.add_column(sa.Column("description", sa.String(2000), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("products") as batch:
        batch.drop_column("description")

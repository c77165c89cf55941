"""Order items and shipments.

Revision ID: 0001_shipping
Revises:
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0001_shipping"
down_revision = None
branch_labels = None
depends_on = None


def _timestamps() -> list[sa.Column]:
    return [
        sa.Column("created_at", sa.DateTime(), server_default=sa.text("CURRENT_TIMESTAMP"), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        "order_items",
        sa.Column("product_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("order_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("ordered_quantity", sa.Integer(), nullable=False),
        *_timestamps(),
        sa.CheckConstraint("ordered_quantity > 0", name="ck_order_items_quantity_positive"),
        sa.PrimaryKeyConstraint("product_id", "order_id", name="pk_order_items"),
    )
    op.create_index("ix_order_items_order_id", "order_items", ["order_id"])
    op.create_table(
        "shipments",
        sa.Column("order_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("shipping_status", sa.String(16), nullable=False, server_default="PENDING"),
        *_timestamps(),
        sa.CheckConstraint("shipping_status IN ('PENDING', 'SHIPPED', 'DELIVERED')", name="ck_shipments_status_known"),
        sa.PrimaryKeyConstraint("order_id", name="pk_shipments"),
    )


def downgrade() -> None:
    op.drop_table("shipments")
    op.drop_index("ix_order_items_order_id", table_name="order_items")
    op.drop_table("order_items")

"""Stock reservations per order.

Revision ID: 0002_reservations
Revises: 0001_catalog
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_reservations"
down_revision = "0001_catalog"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stock_reservations",
        sa.Column("order_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("reservation_status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(), server_default=sa.text("CURRENT_TIMESTAMP"), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint("reservation_status IN ('RESERVED', 'RELEASED')", name="ck_stock_reservations_status_known"),
        sa.PrimaryKeyConstraint("order_id", name="pk_stock_reservations"),
    )
    op.create_table(
        "stock_reservation_lines",
        sa.Column("order_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("product_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.CheckConstraint("quantity > 0", name="ck_stock_reservation_lines_quantity_positive"),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["stock_reservations.order_id"],
            name="fk_stock_reservation_lines_order_id_stock_reservations",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("order_id", "product_id", name="pk_stock_reservation_lines"),
    )
    op.create_index("ix_stock_reservation_lines_product_id", "stock_reservation_lines", ["product_id"])


def downgrade() -> None:
    op.drop_index("ix_stock_reservation_lines_product_id", table_name="stock_reservation_lines")
    op.drop_table("stock_reservation_lines")
    op.drop_table("stock_reservations")

"""Carts, orders with a status, order lines, checkout keys.

Revision ID: 0001_orders
Revises:
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0001_orders"
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
        "carts",
        sa.Column("cart_id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        *_timestamps(),
        sa.PrimaryKeyConstraint("cart_id", name="pk_carts"),
    )
    op.create_index("ix_carts_user_id", "carts", ["user_id"])
    op.create_table(
        "orders",
        sa.Column("order_id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("cart_id", sa.Integer(), nullable=False),
        sa.Column("order_date", sa.DateTime(), server_default=sa.text("CURRENT_TIMESTAMP"), nullable=False),
        sa.Column("order_desc", sa.String(255), nullable=True),
        sa.Column("order_fee", sa.Numeric(12, 2), nullable=False, server_default="0"),
        sa.Column("order_status", sa.String(16), nullable=False, server_default="CREATED"),
        sa.Column("payment_id", sa.Integer(), nullable=True),
        sa.Column("stock_release_pending", sa.Boolean(), nullable=False, server_default=sa.false()),
        *_timestamps(),
        sa.CheckConstraint(
            "order_status IN ('CREATED', 'PAID', 'SHIPPED', 'DELIVERED', 'CANCELLED')", name="ck_orders_status_known"
        ),
        sa.CheckConstraint("order_fee >= 0", name="ck_orders_fee_not_negative"),
        sa.ForeignKeyConstraint(["cart_id"], ["carts.cart_id"], name="fk_orders_cart_id_carts", ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("order_id", name="pk_orders"),
    )
    op.create_index("ix_orders_cart_id", "orders", ["cart_id"])
    op.create_table(
        "order_lines",
        sa.Column("order_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("product_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price", sa.Numeric(12, 2), nullable=False),
        sa.CheckConstraint("quantity > 0", name="ck_order_lines_quantity_positive"),
        sa.CheckConstraint("unit_price >= 0", name="ck_order_lines_unit_price_not_negative"),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.order_id"], name="fk_order_lines_order_id_orders", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("order_id", "product_id", name="pk_order_lines"),
    )
    op.create_table(
        "checkout_keys",
        sa.Column("idempotency_key", sa.String(255), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("completed", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), server_default=sa.text("CURRENT_TIMESTAMP"), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.order_id"], name="fk_checkout_keys_order_id_orders", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("idempotency_key", name="pk_checkout_keys"),
    )


def downgrade() -> None:
    op.drop_table("checkout_keys")
    op.drop_table("order_lines")
    op.drop_index("ix_orders_cart_id", table_name="orders")
    op.drop_table("orders")
    op.drop_index("ix_carts_user_id", table_name="carts")
    op.drop_table("carts")

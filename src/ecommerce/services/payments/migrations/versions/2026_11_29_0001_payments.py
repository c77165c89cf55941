"""Payments.

Revision ID: 0001_payments
Revises:
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0001_payments"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "payments",
        sa.Column("payment_id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("is_payed", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("payment_status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(), server_default=sa.text("CURRENT_TIMESTAMP"), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint(
            "payment_status IN ('NOT_STARTED', 'IN_PROGRESS', 'COMPLETED', 'FAILED')",
            name="ck_payments_status_known",
        ),
        sa.PrimaryKeyConstraint("payment_id", name="pk_payments"),
        sa.UniqueConstraint("order_id", name="uq_payments_order_id"),
    )


def downgrade() -> None:
    op.drop_table("payments")

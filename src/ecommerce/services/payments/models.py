"""payment-service table: payments (one per order)."""

from __future__ import annotations

from sqlalchemy import Boolean, CheckConstraint, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ecommerce.chassis import Base, TimestampMixin, inbox_table, new_metadata, outbox_table

metadata = new_metadata()
outbox = outbox_table(metadata)  # PaymentCompleted, PaymentFailed -> order-service
inbox = inbox_table(metadata)  # OrderCancelled from order-service

STATUSES = ("NOT_STARTED", "IN_PROGRESS", "COMPLETED", "FAILED")


class PaymentBase(Base):
    __abstract__ = True
    metadata = metadata


class Payment(TimestampMixin, PaymentBase):
    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint("payment_status IN ('NOT_STARTED', 'IN_PROGRESS', 'COMPLETED', 'FAILED')", name="status_known"),
        {"sqlite_autoincrement": True},
    )

    payment_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[int] = mapped_column(Integer, nullable=False, unique=True)
    is_payed: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    payment_status: Mapped[str] = mapped_column(String(16), nullable=False)

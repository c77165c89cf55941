"""order-service tables: carts, orders (with a status), order_lines, and checkout idempotency keys."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, CheckConstraint, DateTime, ForeignKey, Integer, Numeric, String, text
from sqlalchemy.orm import Mapped, mapped_column

from ecommerce.chassis import Base, TimestampMixin, inbox_table, new_metadata, outbox_table

metadata = new_metadata()
outbox = outbox_table(metadata)  # OrderCancelled -> product-, shipping- and payment-service
inbox = inbox_table(metadata)  # PaymentCompleted, PaymentFailed from payment-service

ORDER_STATUSES = ("CREATED", "PAID", "SHIPPED", "DELIVERED", "CANCELLED")


class OrderBase(Base):
    __abstract__ = True
    metadata = metadata


class Cart(TimestampMixin, OrderBase):
    __tablename__ = "carts"
    __table_args__ = ({"sqlite_autoincrement": True},)

    cart_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)


class Order(TimestampMixin, OrderBase):
    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint(
            "order_status IN ('CREATED', 'PAID', 'SHIPPED', 'DELIVERED', 'CANCELLED')", name="status_known"
        ),
        CheckConstraint("order_fee >= 0", name="fee_not_negative"),
        {"sqlite_autoincrement": True},
    )

    order_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    cart_id: Mapped[int] = mapped_column(ForeignKey("carts.cart_id", ondelete="RESTRICT"), nullable=False, index=True)
    order_date: Mapped[datetime] = mapped_column(DateTime(), server_default=text("CURRENT_TIMESTAMP"), nullable=False)
    order_desc: Mapped[str | None] = mapped_column(String(255))
    order_fee: Mapped[Decimal] = mapped_column(Numeric(12, 2), nullable=False, default=Decimal("0"))
    order_status: Mapped[str] = mapped_column(String(16), nullable=False, default="CREATED")
    payment_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    stock_release_pending: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)


class OrderLine(OrderBase):
    __tablename__ = "order_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("unit_price >= 0", name="unit_price_not_negative"),
    )

    order_id: Mapped[int] = mapped_column(
        ForeignKey("orders.order_id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    product_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)
    unit_price: Mapped[Decimal] = mapped_column(Numeric(12, 2), nullable=False)
    # What was bought, as the catalog named it at purchase time (null for lines placed before it was kept).
    product_title: Mapped[str | None] = mapped_column(String(255), nullable=True)


class CheckoutKey(OrderBase):
    """An Idempotency-Key seen by checkout: the request it named and the order it made."""

    __tablename__ = "checkout_keys"

    idempotency_key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.order_id", ondelete="CASCADE"), nullable=True)
    completed: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(), server_default=text("CURRENT_TIMESTAMP"), nullable=False)

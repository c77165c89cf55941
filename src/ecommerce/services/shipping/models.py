"""shipping-service tables: order_items (by product and order) and one shipment status per order."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ecommerce.chassis import Base, TimestampMixin, inbox_table, new_metadata, outbox_table

metadata = new_metadata()
outbox = outbox_table(metadata)  # ShipmentShipped, ShipmentDelivered -> order-service
inbox = inbox_table(metadata)  # OrderPlaced, OrderCancelled from order-service

SHIPPING_STATUSES = ("PENDING", "SHIPPED", "DELIVERED")


class ShippingBase(Base):
    __abstract__ = True
    metadata = metadata


class OrderItem(TimestampMixin, ShippingBase):
    __tablename__ = "order_items"
    __table_args__ = (CheckConstraint("ordered_quantity > 0", name="quantity_positive"),)

    product_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    order_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False, index=True)
    ordered_quantity: Mapped[int] = mapped_column(Integer, nullable=False)


class Shipment(TimestampMixin, ShippingBase):
    __tablename__ = "shipments"
    __table_args__ = (CheckConstraint("shipping_status IN ('PENDING', 'SHIPPED', 'DELIVERED')", name="status_known"),)

    order_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    shipping_status: Mapped[str] = mapped_column(String(16), nullable=False, default="PENDING")

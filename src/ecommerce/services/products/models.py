"""product-service tables: categories (with parents) and products."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, Integer, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from ecommerce.chassis import Base, TimestampMixin, inbox_table, new_metadata

metadata = new_metadata()
inbox = inbox_table(metadata)  # OrderCancelled from order-service


class ProductBase(Base):
    __abstract__ = True
    metadata = metadata


class Category(TimestampMixin, ProductBase):
    __tablename__ = "categories"
    __table_args__ = ({"sqlite_autoincrement": True},)

    category_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    parent_category_id: Mapped[int | None] = mapped_column(
        ForeignKey("categories.category_id", ondelete="RESTRICT"), nullable=True, index=True
    )
    category_title: Mapped[str] = mapped_column(String(255), nullable=False)
    image_url: Mapped[str | None] = mapped_column(String(255))


class Product(TimestampMixin, ProductBase):
    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("price_unit >= 0", name="price_not_negative"),
        CheckConstraint("quantity >= 0", name="quantity_not_negative"),
        Index("ix_products_category_id_product_id", "category_id", "product_id"),
        {"sqlite_autoincrement": True},
    )

    product_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.category_id", ondelete="RESTRICT"), nullable=False)
    product_title: Mapped[str] = mapped_column(String(255), nullable=False, index=True)
    image_url: Mapped[str | None] = mapped_column(String(255))
    # What the product page says about it (not in the original, which had titles only).
    description: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    sku: Mapped[str | None] = mapped_column(String(255), unique=True)
    price_unit: Mapped[Decimal] = mapped_column(Numeric(12, 2), nullable=False, default=Decimal("0"))
    quantity: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # Set when the product was deleted: kept for the orders, shipments and favourites that name it, never sold again.
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(), nullable=True)


class StockReservation(TimestampMixin, ProductBase):
    """Stock held for one order: RESERVED while held, RELEASED once given back (or refused before it was taken)."""

    __tablename__ = "stock_reservations"
    __table_args__ = (CheckConstraint("reservation_status IN ('RESERVED', 'RELEASED')", name="status_known"),)

    order_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    reservation_status: Mapped[str] = mapped_column(String(16), nullable=False)


class StockReservationLine(ProductBase):
    """How many units of one product a reservation holds."""

    __tablename__ = "stock_reservation_lines"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)

    order_id: Mapped[int] = mapped_column(
        ForeignKey("stock_reservations.order_id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    product_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False, index=True)
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)

"""shipping-service JSON shapes: the original's order item, plus the shipment of an order."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from ecommerce.chassis import ApiModel

Id = Annotated[int, Field(ge=1, le=2_147_483_647)]
Quantity = Annotated[int, Field(ge=1, le=1_000_000)]
ShippingStatus = Literal["PENDING", "SHIPPED", "DELIVERED"]


class OrderItemId(ApiModel):
    """An order item's key: the product and the order."""

    product_id: Id
    order_id: Id


class OrderItemIn(OrderItemId):
    """Body of POST and PUT on shippings."""

    ordered_quantity: Quantity


class OrderItemOut(ApiModel):
    """An order item with its product and order embedded (null when the peer cannot say)."""

    product_id: int
    order_id: int
    ordered_quantity: int
    product: dict[str, Any] | None = None
    order: dict[str, Any] | None = None


class ShipmentLineIn(ApiModel):
    """One item of a shipment."""

    product_id: Id
    ordered_quantity: Quantity


class ShipmentIn(ApiModel):
    """Body of PUT /api/shippings/orders/{orderId}: every item of the order."""

    items: Annotated[list[ShipmentLineIn], Field(min_length=1, max_length=100)]


class ShipmentStatusIn(ApiModel):
    """Body of PUT /api/shippings/orders/{orderId}/status."""

    shipping_status: ShippingStatus


class ShipmentOut(ApiModel):
    """An order's shipment: its status and its items."""

    order_id: int
    shipping_status: str
    items: list[OrderItemOut]

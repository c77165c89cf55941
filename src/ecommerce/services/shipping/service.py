"""shipping-service rules: order items keyed (order, product) the right way round, and a shipment per order.

A shipment is opened PENDING when order-service announces the placed order (OrderPlaced, events.py) or through
`PUT .../shippings/orders/{id}`, and goes PENDING -> SHIPPED -> DELIVERED. A move is checked against the order
first (SHIPPED needs it PAID, DELIVERED needs it SHIPPED: 409 otherwise, 503 when order-service cannot be asked),
then committed with its event (ShipmentShipped, ShipmentDelivered) in the outbox and delivered: the order follows
the shipment once the shipment is stored, and a crash in between leaves the event for the relay. Items can change
only while the shipment is PENDING.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ecommerce.chassis import Conflict, InsertNew, NotFound, PeerClient, commit_and_deliver, publish
from ecommerce.services.shipping import clients
from ecommerce.services.shipping.models import OrderItem, Shipment, metadata
from ecommerce.services.shipping.models import outbox as outbox_table
from ecommerce.services.shipping.schemas import OrderItemIn, OrderItemOut, ShipmentIn, ShipmentOut

NEXT = {"PENDING": "SHIPPED", "SHIPPED": "DELIVERED"}
EVENTS = {"SHIPPED": "ShipmentShipped", "DELIVERED": "ShipmentDelivered"}
# The order statuses a move may meet: the order can follow (PAID, SHIPPED) or already has.
ORDER_CAN_FOLLOW = {"SHIPPED": {"PAID", "SHIPPED", "DELIVERED"}, "DELIVERED": {"SHIPPED", "DELIVERED"}}
ORDERS = "order-service"

_ITEM_ROWS = select(OrderItem.product_id, OrderItem.order_id, OrderItem.ordered_quantity)

# A placed order's shipment (OrderPlaced, once per purchase): its statements built once, writes on the Core
# tables (chassis/database.py says why).
_shipments = metadata.tables[Shipment.__tablename__]
_items = metadata.tables[OrderItem.__tablename__]
_STATUS = select(Shipment.shipping_status).where(Shipment.order_id == bindparam("order_id"))
_LOCK = select(Shipment.order_id).where(Shipment.order_id == bindparam("order_id")).with_for_update()
_DROP_ITEMS = delete(_items).where(_items.c.order_id == bindparam("order_id"))
_INSERT_ITEMS = insert(_items)


_OPEN = InsertNew(_shipments, "order_id", shipping_status="PENDING")


async def list_items(session: AsyncSession, peers: PeerClient, *, order_id: int | None = None) -> list[OrderItemOut]:
    """Order items, each with its product and order fetched in two batch calls."""
    query = _ITEM_ROWS.order_by(OrderItem.order_id, OrderItem.product_id)
    if order_id is not None:
        query = query.where(OrderItem.order_id == order_id)
    return await _embedded(peers, (await session.execute(query)).all())


async def get_item(session: AsyncSession, peers: PeerClient, *, order_id: int, product_id: int) -> OrderItemOut:
    """One order item by (order, product), or 404."""
    row = (
        await session.execute(_ITEM_ROWS.where(OrderItem.order_id == order_id, OrderItem.product_id == product_id))
    ).first()
    if row is None:
        raise NotFound(f"OrderItem with order id: {order_id} and product id: {product_id} not found")
    return (await _embedded(peers, [row]))[0]


async def create_item(session: AsyncSession, peers: PeerClient, *, data: OrderItemIn) -> OrderItemOut:
    """Add an item of the order to its PENDING shipment (opened when the order has none); 409 when it exists."""
    await clients.require_order_lines(peers, data.order_id, {data.product_id})
    await _open_pending(session, data.order_id)
    exists = await session.get(OrderItem, (data.product_id, data.order_id))
    if exists is not None:
        raise Conflict(f"OrderItem with order id: {data.order_id} and product id: {data.product_id} already exists")
    session.add(OrderItem(product_id=data.product_id, order_id=data.order_id, ordered_quantity=data.ordered_quantity))
    await session.flush()
    return await get_item(session, peers, order_id=data.order_id, product_id=data.product_id)


async def save_item(session: AsyncSession, peers: PeerClient, *, data: OrderItemIn) -> tuple[OrderItemOut, bool]:
    """The original's PUT: replace the item's quantity, or add it; returns (item, created)."""
    await clients.require_order_lines(peers, data.order_id, {data.product_id})
    await _open_pending(session, data.order_id)
    item = await session.get(OrderItem, (data.product_id, data.order_id))
    created = item is None
    if item is None:
        session.add(
            OrderItem(product_id=data.product_id, order_id=data.order_id, ordered_quantity=data.ordered_quantity)
        )
    else:
        item.ordered_quantity = data.ordered_quantity
    await session.flush()
    return await get_item(session, peers, order_id=data.order_id, product_id=data.product_id), created


async def delete_item(session: AsyncSession, *, order_id: int, product_id: int) -> None:
    """Remove one item of a PENDING shipment; 404 when it does not exist."""
    removed = await session.execute(
        delete(OrderItem).where(OrderItem.order_id == order_id, OrderItem.product_id == product_id)
    )
    if int(removed.rowcount) == 0:  # type: ignore[attr-defined]
        raise NotFound(f"OrderItem with order id: {order_id} and product id: {product_id} not found")
    await _require_pending(session, order_id)


async def get_shipment(session: AsyncSession, peers: PeerClient, *, order_id: int) -> ShipmentOut:
    """An order's shipment with its items, or 404."""
    status = (
        await session.execute(select(Shipment.shipping_status).where(Shipment.order_id == order_id))
    ).scalar_one_or_none()
    if status is None:
        raise NotFound(f"Shipment of order: {order_id} not found")
    items = await list_items(session, peers, order_id=order_id)
    return ShipmentOut.model_construct(order_id=order_id, shipping_status=status, items=items)


async def put_shipment(session: AsyncSession, peers: PeerClient, *, order_id: int, data: ShipmentIn) -> ShipmentOut:
    """Set every item of the order's PENDING shipment (idempotent: the checkout may send it twice)."""
    await clients.require_order_lines(peers, order_id, {line.product_id for line in data.items})
    merged: dict[int, int] = {}
    for line in data.items:
        merged[line.product_id] = merged.get(line.product_id, 0) + line.ordered_quantity
    await _open_pending(session, order_id)
    await _set_items(session, order_id, merged)
    return await get_shipment(session, peers, order_id=order_id)


async def open_shipment(session: AsyncSession, *, order_id: int, items: dict[int, int]) -> bool:
    """The placed order's PENDING shipment with these items (OrderPlaced, on order-service's word: no look-up);
    False, changing nothing, when its shipment has left PENDING already."""
    try:
        await _open_pending(session, order_id)
    except Conflict:
        return False
    await _set_items(session, order_id, items)
    return True


async def _set_items(session: AsyncSession, order_id: int, items: dict[int, int]) -> None:
    await session.execute(_DROP_ITEMS, {"order_id": order_id})
    if items:
        rows = [
            {"product_id": pid, "order_id": order_id, "ordered_quantity": qty} for pid, qty in sorted(items.items())
        ]
        await session.execute(_INSERT_ITEMS, rows)


async def delete_shipment(session: AsyncSession, *, order_id: int) -> None:
    """Remove a PENDING shipment and its items (a checkout being undone); 404 when there is none."""
    removed = await session.execute(
        delete(Shipment).where(Shipment.order_id == order_id, Shipment.shipping_status == "PENDING")
    )
    if int(removed.rowcount) == 0:  # type: ignore[attr-defined]
        await _require_pending(session, order_id)
    await session.execute(delete(OrderItem).where(OrderItem.order_id == order_id))


async def drop_pending_shipment(session: AsyncSession, *, order_id: int) -> bool:
    """Drop the order's shipment and its items while it is PENDING (its order was cancelled); True when dropped."""
    dropped = await session.execute(
        delete(Shipment).where(Shipment.order_id == order_id, Shipment.shipping_status == "PENDING")
    )
    if int(dropped.rowcount) != 1:  # type: ignore[attr-defined]
        return False
    await session.execute(delete(OrderItem).where(OrderItem.order_id == order_id))
    return True


async def advance_shipment(session: AsyncSession, peers: PeerClient, *, order_id: int, status: str) -> ShipmentOut:
    """Move the shipment one step to `status` when the order can follow; the move and its event commit together."""
    previous = [source for source, target in NEXT.items() if target == status]
    moved = await session.execute(
        update(Shipment)
        .where(Shipment.order_id == order_id, Shipment.shipping_status.in_(previous))
        .values(shipping_status=status)
    )
    if int(moved.rowcount) != 1:  # type: ignore[attr-defined]
        current = await _status(session, order_id)
        if current != status:
            raise Conflict(f"Shipment of order: {order_id} is {current}; it cannot become {status}")
        return await get_shipment(session, peers, order_id=order_id)
    order_status = await clients.order_status(peers, order_id)
    if order_status not in ORDER_CAN_FOLLOW[status]:
        raise Conflict(f"Order {order_id} is {order_status}; its shipment cannot become {status}")
    await publish_move(session, order_id=order_id, status=status)
    await commit_and_deliver(session)
    return await get_shipment(session, peers, order_id=order_id)


async def publish_move(session: AsyncSession, *, order_id: int, status: str) -> None:
    """ShipmentShipped or ShipmentDelivered for order-service, in the caller's transaction."""
    await publish(
        session,
        outbox_table,
        event_type=EVENTS[status],
        aggregate_id=order_id,
        payload={"orderId": order_id, "shippingStatus": status},
        destinations=[ORDERS],
    )


async def _open_pending(session: AsyncSession, order_id: int) -> None:
    """Make sure the order has a shipment and that it is still PENDING (a write first, for SQLite's lock)."""
    await session.execute(_OPEN.for_session(session), {"order_id": order_id})
    # Lock the shipment row (PostgreSQL) so two writers of one order's items take turns.
    await session.execute(_LOCK, {"order_id": order_id})
    await _require_pending(session, order_id)


async def _require_pending(session: AsyncSession, order_id: int) -> None:
    status = await _status(session, order_id)
    if status != "PENDING":
        raise Conflict(f"Shipment of order: {order_id} is {status}; its items cannot change")


async def _status(session: AsyncSession, order_id: int) -> str:
    status = (await session.execute(_STATUS, {"order_id": order_id})).scalar_one_or_none()
    if status is None:
        raise NotFound(f"Shipment of order: {order_id} not found")
    return str(status)


async def _embedded(peers: PeerClient, rows: Any) -> list[OrderItemOut]:
    products = await clients.products_by_id(peers, {row.product_id for row in rows})
    orders = await clients.orders_by_id(peers, {row.order_id for row in rows})
    return [
        OrderItemOut.model_construct(
            product_id=row.product_id,
            order_id=row.order_id,
            ordered_quantity=row.ordered_quantity,
            product=products.get(row.product_id),
            order=orders.get(row.order_id),
        )
        for row in rows
    ]

"""order-service rules: carts, orders priced from their lines, and the order's status.

Order status moves only forward: CREATED -> PAID -> SHIPPED -> DELIVERED, or CREATED -> CANCELLED (published as
OrderCancelled in the same transaction: product-service gives the reserved stock back, shipping-service drops the
pending shipment, payment-service fails a payment that took no money). Asking for the status an order already has
is a no-op, anything else is 409. Each move is one conditional UPDATE, so two concurrent moves cannot both win.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from prometheus_client import Counter
from sqlalchemy import bindparam, delete, exists, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ecommerce.chassis import BadRequest, Conflict, NotFound, PeerClient, commit_and_deliver, publish
from ecommerce.services.orders import clients
from ecommerce.services.orders.models import Cart, Order, OrderLine, metadata
from ecommerce.services.orders.models import outbox as outbox_table
from ecommerce.services.orders.schemas import CartIn, CartOut, CartRef, LineIn, LineOut, OrderIn, OrderOut, order_fee

APPLICATION = "order-service"
EVENTS: dict[str, tuple[frozenset[str], str]] = {
    "paid": (frozenset({"CREATED"}), "PAID"),
    "shipped": (frozenset({"PAID"}), "SHIPPED"),
    "delivered": (frozenset({"SHIPPED"}), "DELIVERED"),
    "cancel": (frozenset({"CREATED"}), "CANCELLED"),
}
CANCELLED_FOLLOWERS = ("product-service", "shipping-service", "payment-service")
PLACED_FOLLOWERS = ("shipping-service",)
REVENUE = Counter("shop_revenue", "Fees of paid orders (currency units)", ["application"])

# A purchase's statements, built once; writes on the Core tables (chassis/database.py says why).
_orders = metadata.tables[Order.__tablename__]
_order_lines = metadata.tables[OrderLine.__tablename__]

# An order's own columns: what a read selects and what the insert returns.
_ORDER_COLUMNS = (
    Order.order_id,
    Order.order_date,
    Order.order_desc,
    Order.order_fee,
    Order.order_status,
    Order.payment_id,
    Order.cart_id,
)
_ORDER_ROWS = select(*_ORDER_COLUMNS, Cart.user_id).join(Cart, Cart.cart_id == Order.cart_id)

_ORDER_WITH_LINES = (
    _ORDER_ROWS.add_columns(OrderLine.product_id, OrderLine.product_title, OrderLine.quantity, OrderLine.unit_price)
    .outerjoin(OrderLine, OrderLine.order_id == Order.order_id)
    .where(Order.order_id == bindparam("order_id"))
    .order_by(OrderLine.product_id)
)
_ORDERS_BY_IDS = _ORDER_ROWS.where(Order.order_id.in_(bindparam("ids", expanding=True))).order_by(Order.order_id)
_LINES_BY_ORDER_IDS = (
    select(OrderLine.order_id, OrderLine.product_id, OrderLine.product_title, OrderLine.quantity, OrderLine.unit_price)
    .where(OrderLine.order_id.in_(bindparam("order_ids", expanding=True)))
    .order_by(OrderLine.order_id, OrderLine.product_id)
)
_USERS_CART = select(Cart.cart_id).where(Cart.user_id == bindparam("user_id")).order_by(Cart.cart_id).limit(1)
_CART_OWNER = select(Cart.user_id).where(Cart.cart_id == bindparam("cart_id"))
# The CREATED order's row; its cart, description, fee (and a given date) come as parameters.
_INSERT_ORDER = insert(_orders).values(order_status="CREATED", stock_release_pending=False).returning(*_ORDER_COLUMNS)
_INSERT_LINES = insert(_order_lines)


# --- carts ----------------------------------------------------------------------------------------------


async def list_carts(session: AsyncSession, peers: PeerClient) -> list[CartOut]:
    """Every cart, with its user fetched in one batch."""
    rows = (await session.execute(select(Cart.cart_id, Cart.user_id).order_by(Cart.cart_id))).all()
    users = await clients.users_by_id(peers, {row.user_id for row in rows if row.user_id is not None})
    return [_cart_out(row, users) for row in rows]


async def get_cart(session: AsyncSession, peers: PeerClient, *, cart_id: int) -> CartOut:
    """One cart with its user, or 404."""
    row = (await session.execute(select(Cart.cart_id, Cart.user_id).where(Cart.cart_id == cart_id))).first()
    if row is None:
        raise NotFound(f"Cart with id: {cart_id} not found")
    users = await clients.users_by_id(peers, {row.user_id} if row.user_id is not None else set())
    return _cart_out(row, users)


async def create_cart(session: AsyncSession, peers: PeerClient, *, data: CartIn) -> CartOut:
    """Open a cart for a user that user-service knows."""
    await clients.require_user(peers, data.user_id)
    cart = Cart(user_id=data.user_id)
    session.add(cart)
    await session.flush()
    return await get_cart(session, peers, cart_id=cart.cart_id)


async def save_cart(session: AsyncSession, peers: PeerClient, *, data: CartIn) -> tuple[CartOut, bool]:
    """PUT without a path id: open a cart when the body has no `cartId`, else update it; True when created."""
    if data.cart_id is None:
        return await create_cart(session, peers, data=data), True
    return await update_cart(session, peers, cart_id=data.cart_id, data=data), False


async def update_cart(session: AsyncSession, peers: PeerClient, *, cart_id: int, data: CartIn) -> CartOut:
    """Replace a cart's user with one user-service knows (the original ignored the body)."""
    await clients.require_user(peers, data.user_id)
    moved = await session.execute(update(Cart).where(Cart.cart_id == cart_id).values(user_id=data.user_id))
    if _rowcount(moved) == 0:
        raise NotFound(f"Cart with id: {cart_id} not found")
    return await get_cart(session, peers, cart_id=cart_id)


async def delete_cart(session: AsyncSession, *, cart_id: int) -> None:
    """Remove a cart without orders: 404 when missing, 409 while orders use it."""
    if (await session.execute(exists().where(Order.cart_id == cart_id).select())).scalar_one():
        raise Conflict(f"Cart with id: {cart_id} still has orders")
    if _rowcount(await session.execute(delete(Cart).where(Cart.cart_id == cart_id))) == 0:
        raise NotFound(f"Cart with id: {cart_id} not found")


async def cart_for_user(session: AsyncSession, *, user_id: int) -> int:
    """The user's cart (the oldest when there are several), opened when the user has none."""
    found = await users_cart(session, user_id=user_id)
    if found is not None:
        return found
    cart = Cart(user_id=user_id)
    session.add(cart)
    await session.flush()
    return cart.cart_id


async def users_cart(session: AsyncSession, *, user_id: int) -> int | None:
    """The user's oldest cart, if they have one."""
    found = (await session.execute(_USERS_CART, {"user_id": user_id})).scalar_one_or_none()
    return None if found is None else int(found)


async def cart_row(session: AsyncSession, *, cart_id: int) -> Any:
    """The cart's row (its `user_id`), or None when there is no such cart."""
    return (await session.execute(_CART_OWNER, {"cart_id": cart_id})).first()


def _cart_out(row: Any, users: dict[int, dict[str, Any]]) -> CartOut:
    user = users.get(row.user_id) if row.user_id is not None else None
    return CartOut.model_construct(cart_id=row.cart_id, user_id=row.user_id, user=user)


# --- orders ---------------------------------------------------------------------------------------------


async def list_orders(
    session: AsyncSession,
    *,
    ids: Sequence[int] | None = None,
    cart_id: int | None = None,
    user_id: int | None = None,
) -> list[OrderOut]:
    """Orders with their lines, optionally only these ids, one cart's or one user's (through their carts)."""
    if ids is not None and cart_id is None and user_id is None:  # the peers' batch read, on the purchase path
        rows = (await session.execute(_ORDERS_BY_IDS, {"ids": list(ids)})).all()
    else:
        query = _ORDER_ROWS.order_by(Order.order_id)
        if ids is not None:
            query = query.where(Order.order_id.in_(ids))
        if cart_id is not None:
            query = query.where(Order.cart_id == cart_id)
        if user_id is not None:
            query = query.where(Cart.user_id == user_id)
        rows = (await session.execute(query)).all()
    lines = await _lines(session, [row.order_id for row in rows])
    return [_order_out(row, lines.get(row.order_id, [])) for row in rows]


async def get_order(session: AsyncSession, *, order_id: int) -> OrderOut:
    """One order with its lines, or 404: one statement (the order's row repeated on each of its lines)."""
    rows = (await session.execute(_ORDER_WITH_LINES, {"order_id": order_id})).all()
    if not rows:
        raise NotFound(f"Order with id: {order_id} not found")
    lines = [
        LineOut.model_construct(
            product_id=row.product_id, product_title=row.product_title, quantity=row.quantity, unit_price=row.unit_price
        )
        for row in rows
        if row.product_id is not None
    ]
    return _order_out(rows[0], lines)


async def create_order(session: AsyncSession, peers: PeerClient, *, data: OrderIn) -> OrderOut:
    """Place an order in an existing cart; its lines are priced by product-service and make the fee."""
    user_id = await _require_cart(session, data.cart.cart_id)
    lines = merge_lines(data.order_lines or [])
    priced = await price_lines(peers, lines) if lines else []
    values: dict[str, Any] = {
        "cart_id": data.cart.cart_id,
        "order_desc": data.order_desc,
        "order_fee": order_fee(priced),
    }
    if data.order_date is not None:
        values["order_date"] = data.order_date
    return await insert_order(session, values, priced, user_id=user_id)


async def save_order(session: AsyncSession, peers: PeerClient, *, data: OrderIn) -> tuple[OrderOut, bool]:
    """PUT without a path id: place an order when the body has no `orderId`, else update it; True when created."""
    if data.order_id is None:
        return await create_order(session, peers, data=data), True
    return await update_order(session, order_id=data.order_id, data=data), False


async def update_order(session: AsyncSession, *, order_id: int, data: OrderIn) -> OrderOut:
    """Replace an order's description, date and cart; its lines, fee and status cannot change this way."""
    current = await get_order(session, order_id=order_id)
    if data.order_lines is not None:
        wanted = sorted(merge_lines(data.order_lines).items())
        if wanted != [(line.product_id, line.quantity) for line in current.order_lines]:
            raise BadRequest(f"The lines of order {order_id} cannot change after it was placed")
    await _require_cart(session, data.cart.cart_id)
    values: dict[str, Any] = {"cart_id": data.cart.cart_id, "order_desc": data.order_desc}
    if data.order_date is not None:
        values["order_date"] = data.order_date
    await session.execute(update(Order).where(Order.order_id == order_id).values(**values))
    return await get_order(session, order_id=order_id)


async def delete_order(session: AsyncSession, *, order_id: int) -> None:
    """Remove an order that holds nothing: CANCELLED, or CREATED without lines; 404 when missing, else 409."""
    order = await get_order(session, order_id=order_id)
    if order.order_status != "CANCELLED" and (order.order_status != "CREATED" or order.order_lines):
        raise Conflict(f"Order with id: {order_id} is {order.order_status}; cancel it before deleting it")
    await session.execute(delete(Order).where(Order.order_id == order_id))


async def advance_order(session: AsyncSession, peers: PeerClient, *, order_id: int, event: str) -> OrderOut:
    """Apply `event` (paid, shipped, delivered, cancel) to the order's status; cancelling releases its stock."""
    sources, target = EVENTS[event]
    moved = await session.execute(
        update(Order).where(Order.order_id == order_id, Order.order_status.in_(sources)).values(order_status=target)
    )
    if _rowcount(moved) == 0:
        status = (
            await session.execute(select(Order.order_status).where(Order.order_id == order_id))
        ).scalar_one_or_none()
        if status is None:
            raise NotFound(f"Order with id: {order_id} not found")
        if status != target:
            raise Conflict(f"Order with id: {order_id} is {status}; it cannot become {target}")
        return await get_order(session, order_id=order_id)
    if event == "cancel":
        await publish_cancelled(session, order_id)
        await commit_and_deliver(session)
    order = await get_order(session, order_id=order_id)
    if event == "paid":
        REVENUE.labels(APPLICATION).inc(float(order.order_fee))
    return order


async def publish_cancelled(session: AsyncSession, order_id: int) -> None:
    """OrderCancelled, in the caller's transaction: its stock comes back, its shipment and open payment end."""
    await publish(
        session,
        outbox_table,
        event_type="OrderCancelled",
        aggregate_id=order_id,
        payload={"orderId": order_id},
        destinations=CANCELLED_FOLLOWERS,
    )


async def publish_placed(session: AsyncSession, order_id: int, lines: dict[int, int]) -> None:
    """OrderPlaced, in the transaction that completes a checkout: shipping-service opens the order's shipment."""
    items = [{"productId": pid, "quantity": qty} for pid, qty in sorted(lines.items())]
    await publish(
        session,
        outbox_table,
        event_type="OrderPlaced",
        aggregate_id=order_id,
        payload={"orderId": order_id, "items": items},
        destinations=PLACED_FOLLOWERS,
    )


# --- shared with checkout -------------------------------------------------------------------------------


def merge_lines(lines: Sequence[LineIn]) -> dict[int, int]:
    """One quantity per product (repeated products add up)."""
    merged: dict[int, int] = defaultdict(int)
    for line in lines:
        merged[line.product_id] += line.quantity
    return dict(merged)


async def price_lines(peers: PeerClient, lines: dict[int, int]) -> list[LineOut]:
    """The lines with product-service's current unit prices and titles (kept with the order as bought)."""
    found = await clients.prices(peers, set(lines))
    return [
        LineOut.model_construct(product_id=pid, product_title=found[pid][1], quantity=qty, unit_price=found[pid][0])
        for pid, qty in sorted(lines.items())
    ]


async def insert_order(
    session: AsyncSession, values: dict[str, Any], lines: list[LineOut], *, user_id: int | None
) -> OrderOut:
    """Insert an order row (CREATED) and its lines; the order as stored, from the insert's RETURNING (no read back).
    `user_id`: the owner of the order's cart, as the caller found it."""
    row = (await session.execute(_INSERT_ORDER, values)).one()
    if lines:
        await session.execute(
            _INSERT_LINES,
            [
                {"order_id": row.order_id, "product_id": ln.product_id, "quantity": ln.quantity}
                | {"unit_price": ln.unit_price, "product_title": ln.product_title}
                for ln in lines
            ],
        )
    return _order_out(SimpleNamespace(**row._mapping, user_id=user_id), list(lines))


async def _lines(session: AsyncSession, order_ids: list[int]) -> dict[int, list[LineOut]]:
    if not order_ids:
        return {}
    rows = (await session.execute(_LINES_BY_ORDER_IDS, {"order_ids": order_ids})).all()
    grouped: dict[int, list[LineOut]] = defaultdict(list)
    for row in rows:
        grouped[row.order_id].append(
            LineOut.model_construct(
                product_id=row.product_id,
                product_title=row.product_title,
                quantity=row.quantity,
                unit_price=row.unit_price,
            )
        )
    return grouped


async def _require_cart(session: AsyncSession, cart_id: int) -> int | None:
    """The cart's user; 400 when the cart does not exist."""
    row = await cart_row(session, cart_id=cart_id)
    if row is None:
        raise BadRequest(f"Cart with id: {cart_id} not found")
    user_id: int | None = row.user_id
    return user_id


def _order_out(row: Any, lines: list[LineOut]) -> OrderOut:
    return OrderOut.model_construct(
        order_id=row.order_id,
        order_date=row.order_date,
        order_desc=row.order_desc,
        order_fee=Decimal(row.order_fee),
        order_status=row.order_status,
        payment_id=row.payment_id,
        cart=CartRef.model_construct(cart_id=row.cart_id, user_id=row.user_id),
        order_lines=lines,
    )


def _rowcount(result: Any) -> int:
    return int(result.rowcount)

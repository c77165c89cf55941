"""Checkout: one request places a paid-for-later order across four services, or leaves nothing behind.

Steps, each idempotent per order so a retried request (same Idempotency-Key) can resume where one stopped:
  1. price the lines (product-service, one batch call)
  2. store the key, the order (CREATED) and its lines in one local transaction
  3. reserve the stock, all lines or none (product-service)
  4. open the payment, NOT_STARTED (payment-service)
  5. mark the key completed and publish OrderPlaced (shipping-service opens the shipment) in one transaction
If 3-4 fail, what was done is undone: stock released, payment removed, order CANCELLED (OrderCancelled), and the
key forgotten so the client may try again. A release that cannot reach product-service is retried in the
background. The shipment follows the committed order through the outbox, so a slow or stopped shipping-service
no longer fails a checkout, and a crash can never leave a shipment for an order that was not placed.

One run at a time works on a key: it holds the key's lease (an expiry time it wrote), and only the run whose lease
is still the key's may complete it (step 5 is fenced by it) or undo it (the lease is renewed, fenced, first). So a
run that outlived its lease, whose checkout was taken over by a retry or by the worker undoing abandoned
checkouts, answers 503 and leaves the outcome to that run: never a 201 for an order the other cancels, nor an
undo of a checkout the other completes. A run that resumes a checkout whose undo had already released the stock
finishes that undo and answers as any failed checkout does (503: nothing is left, try again).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import orjson
import structlog
from fastapi import FastAPI
from prometheus_client import Counter
from sqlalchemy import bindparam, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from ecommerce.chassis import (
    Conflict,
    Database,
    PeerClient,
    ServiceError,
    ServiceUnavailable,
    database_unavailable,
    deliver_now,
)
from ecommerce.services.orders import clients
from ecommerce.services.orders import service as order_service
from ecommerce.services.orders.models import CheckoutKey, Order, metadata
from ecommerce.services.orders.schemas import CheckoutIn, LineOut, OrderOut, order_fee

log = structlog.get_logger("ecommerce.orders.checkout")

ORDERS_CREATED = Counter("shop_orders_created", "Orders placed by checkout", ["application"])
CHECKOUTS_FAILED = Counter("shop_checkouts_failed", "Checkouts that failed", ["application", "reason"])
RELEASE_RETRY_SECONDS = 5.0
LEASE_SECONDS = 60.0  # longer than any checkout takes: peer timeouts and retries included (CHECKOUT_LEASE_SECONDS)
# The lease of each running service's database (its setting), by database.
_LEASES: dict[int, float] = {}
# Undos whose local write failed because the database was out, by database: retried by the background worker.
_UNFINISHED_UNDOS: dict[int, dict[str, int]] = {}

# A checkout's statements, built once; writes on the Core tables (chassis/database.py says why).
_orders = metadata.tables[Order.__tablename__]
_keys = metadata.tables[CheckoutKey.__tablename__]
_KEY = select(CheckoutKey.request_hash, CheckoutKey.order_id, CheckoutKey.completed).where(
    CheckoutKey.idempotency_key == bindparam("key")
)
_INSERT_KEY = insert(_keys)
_SET_PAYMENT = (
    update(_orders).where(_orders.c.order_id == bindparam("b_order_id")).values(payment_id=bindparam("b_payment_id"))
)
_COMPLETE_KEY = (
    update(_keys)
    .where(_keys.c.idempotency_key == bindparam("b_key"), _keys.c.lease_until == bindparam("b_lease"))
    .values(completed=True, lease_until=None)
)


class KeyReused(ServiceError):
    status = 422


class _LeaseLost(Exception):
    """The key's lease is no longer this run's."""


async def checkout(database: Database, peers: PeerClient, *, key: str, data: CheckoutIn) -> tuple[OrderOut, bool]:
    """Place the order; returns (order, replayed) where replayed means the key had already completed it."""
    lines = order_service.merge_lines(data.items)
    request_hash = _hash(data.user_id, lines)
    found = await _known(database, key, request_hash)
    if found is not None:
        return found
    priced = await order_service.price_lines(peers, lines)
    cart_id = await _shopper_cart(database, peers, data.user_id)
    lease = _lease(database)
    try:
        placed = await _place(database, key, request_hash, cart_id, data.user_id, priced, lease)
    except IntegrityError:
        # A concurrent request with the same key stored it first: resume or replay that one.
        found = await _known(database, key, request_hash)
        if found is None:
            raise Conflict("A checkout with this Idempotency-Key just failed; try again") from None
        return found
    return await _complete(database, peers, key=key, lease=lease, order=placed), False


async def _shopper_cart(database: Database, peers: PeerClient, user_id: int) -> int:
    """The shopper's cart (the oldest), opened when they have none: a user with a cart here was checked when it
    was opened; any other must be known to user-service first."""
    async with database.read_sessionmaker() as session:
        found = await order_service.users_cart(session, user_id=user_id)
    if found is not None:
        return found
    await clients.require_user(peers, user_id)
    async with database.sessionmaker() as session, session.begin():
        return await order_service.cart_for_user(session, user_id=user_id)


async def _known(database: Database, key: str, request_hash: str) -> tuple[OrderOut, bool] | None:
    """What a key already names: None when new, (order, True) when completed; raises _Resume when unfinished."""
    async with database.read_sessionmaker() as session:
        row = (await session.execute(_KEY, {"key": key})).first()
        if row is None:
            return None
        if row.request_hash != request_hash:
            raise KeyReused("This Idempotency-Key was used for a different checkout")
        if row.order_id is None:
            raise Conflict("A checkout with this Idempotency-Key is in progress; try again")
        order = await order_service.get_order(session, order_id=row.order_id)
    if row.completed:
        return order, True
    lease = None if order.order_status == "CANCELLED" else await _claim(database, key)
    if lease is None:
        raise Conflict("A checkout with this Idempotency-Key is in progress; try again")
    raise _Resume(order, lease)


async def _claim(database: Database, key: str, *, held: datetime | None = None) -> datetime | None:
    """Take the key's lease so one request at a time works on it (an expired lease means its runner died or
    outlived it), or renew `held`, this run's lease, while it is still the key's; the new lease, or None when
    another run holds it."""
    now = datetime.now(UTC).replace(tzinfo=None)
    free = or_(CheckoutKey.lease_until.is_(None), CheckoutKey.lease_until < now)
    lease = _lease(database)
    async with database.sessionmaker() as session, session.begin():
        claimed = await session.execute(
            update(CheckoutKey)
            .where(
                CheckoutKey.idempotency_key == key,
                CheckoutKey.completed.is_(False),
                free if held is None else CheckoutKey.lease_until == held,
            )
            .values(lease_until=lease)
        )
    return lease if int(claimed.rowcount) == 1 else None  # type: ignore[attr-defined]


async def _still_held(database: Database, key: str, lease: datetime) -> bool:
    """Whether this run may undo its checkout: it still holds the key (the lease renewed for the undo), or the
    database cannot say (the undo goes ahead; its local write waits for the database)."""
    try:
        return await _claim(database, key, held=lease) is not None
    except Exception as exc:
        if not database_unavailable(exc):
            raise
        return True


def _overtaken(order_id: int) -> ServiceUnavailable:
    """Another run took the key over (this one outlived its lease): that run decides, this one stops."""
    CHECKOUTS_FAILED.labels("order-service", "overtaken").inc()
    log.warning("checkout_overtaken", order_id=order_id)
    return ServiceUnavailable("This checkout took too long and was taken over; try again")


def _lease(database: Database) -> datetime:
    seconds = _LEASES.get(id(database), LEASE_SECONDS)
    return datetime.now(UTC).replace(tzinfo=None) + timedelta(seconds=seconds)


class _Resume(Exception):
    def __init__(self, order: OrderOut, lease: datetime) -> None:
        self.order = order
        self.lease = lease


async def _place(
    database: Database,
    key: str,
    request_hash: str,
    cart_id: int,
    user_id: int,
    priced: list[LineOut],
    lease: datetime,
) -> OrderOut:
    """The order (CREATED), its lines and the key naming it, in one transaction that starts with a write (SQLite
    takes its writer lock before any read); a key stored first by a concurrent request fails it (IntegrityError)."""
    values = {"cart_id": cart_id, "order_desc": "checkout", "order_fee": order_fee(priced)}
    async with database.sessionmaker() as session, session.begin():
        order = await order_service.insert_order(session, values, priced, user_id=user_id)
        await session.execute(
            _INSERT_KEY,
            {
                "idempotency_key": key,
                "request_hash": request_hash,
                "order_id": order.order_id,
                "lease_until": lease,
            },
        )
    return order


async def _complete(database: Database, peers: PeerClient, *, key: str, lease: datetime, order: OrderOut) -> OrderOut:
    """Reserve the stock, open the payment, then complete the key (while `lease` is still the key's) and publish
    OrderPlaced; undone on failure."""
    order_id = order.order_id
    lines = {line.product_id: line.quantity for line in order.order_lines}
    try:
        await clients.reserve_stock(peers, order_id, lines)
        payment_id = await clients.open_payment(peers, order_id)
    except Exception as exc:
        reason = "error"
        if isinstance(exc, clients.StockReleased):
            reason = "undone"
        elif isinstance(exc, Conflict):
            reason = "out_of_stock" if "out of stock" in exc.msg else "conflict"
        elif isinstance(exc, ServiceUnavailable):
            reason = "peer_unavailable"
        CHECKOUTS_FAILED.labels("order-service", reason).inc()
        log.warning("checkout_failed", order_id=order_id, reason=reason, error=str(exc))
        if not await _still_held(database, key, lease):
            raise _overtaken(order_id) from exc
        await _undo(database, peers, key=key, order_id=order_id)
        if reason == "undone":  # an earlier run was undoing this checkout when it stopped: the undo is now done
            raise ServiceUnavailable("This checkout was interrupted and has been undone; try again") from exc
        raise
    try:
        async with database.sessionmaker() as session, session.begin():
            await session.execute(_SET_PAYMENT, {"b_order_id": order_id, "b_payment_id": payment_id})
            completed = await session.execute(_COMPLETE_KEY, {"b_key": key, "b_lease": lease})
            if int(completed.rowcount) != 1:  # type: ignore[attr-defined]
                raise _LeaseLost  # rolls this transaction back
            await order_service.publish_placed(session, order_id, lines)
    except _LeaseLost:
        raise _overtaken(order_id) from None
    except Exception as exc:
        if not database_unavailable(exc):
            raise
        # The caller hears 503, so nothing of this checkout may stay: undo it (now, or once the database is back).
        CHECKOUTS_FAILED.labels("order-service", "database_unavailable").inc()
        if not await _still_held(database, key, lease):
            raise _overtaken(order_id) from exc
        await _undo(database, peers, key=key, order_id=order_id)
        raise
    await deliver_now(database.engine)
    ORDERS_CREATED.labels("order-service").inc()
    return order.model_copy(update={"payment_id": payment_id})


async def _undo(database: Database, peers: PeerClient, *, key: str, order_id: int) -> None:
    """Compensate a failed checkout: nothing reserved or paid for stays behind (no shipment was asked for yet)."""
    await clients.drop_payment(peers, order_id)
    try:
        await clients.release_stock(peers, order_id)
        pending = False
    except ServiceUnavailable as exc:
        log.warning("stock_release_deferred", order_id=order_id, error=exc.msg)
        pending = True
    try:
        async with database.sessionmaker() as session, session.begin():
            await session.execute(
                update(Order)
                .where(Order.order_id == order_id)
                .values(order_status="CANCELLED", stock_release_pending=pending)
            )
            await order_service.publish_cancelled(session, order_id)  # the undo, delivered at least once
            await session.execute(delete(CheckoutKey).where(CheckoutKey.idempotency_key == key))
    except Exception as exc:
        if not database_unavailable(exc):
            raise
        log.warning("checkout_undo_deferred", order_id=order_id, error=type(exc).__name__)
        _UNFINISHED_UNDOS.setdefault(id(database), {})[key] = order_id
        raise
    _UNFINISHED_UNDOS.get(id(database), {}).pop(key, None)


async def checkout_or_resume(
    database: Database, peers: PeerClient, *, key: str, data: CheckoutIn
) -> tuple[OrderOut, bool]:
    """`checkout`, resuming an unfinished checkout of the same key (a crash or a concurrent duplicate)."""
    try:
        return await checkout(database, peers, key=key, data=data)
    except _Resume as resume:
        return await _complete(database, peers, key=key, lease=resume.lease, order=resume.order), True


async def release_pending_stock(database: Database, peers: PeerClient) -> int:
    """Release the stock of cancelled orders whose release could not reach product-service; returns how many."""
    async with database.sessionmaker() as session:
        order_ids = (
            (await session.execute(select(Order.order_id).where(Order.stock_release_pending.is_(True)).limit(100)))
            .scalars()
            .all()
        )
    released = 0
    for order_id in order_ids:
        try:
            await clients.release_stock(peers, order_id)
        except ServiceUnavailable:
            break
        async with database.sessionmaker() as session, session.begin():
            await session.execute(update(Order).where(Order.order_id == order_id).values(stock_release_pending=False))
        released += 1
    return released


async def finish_checkouts(database: Database, peers: PeerClient) -> int:
    """Undo checkouts left unfinished: undos that could not be written while the database was out, and checkouts
    whose runner's lease expired without completing (the process died, or its request failed half-way).

    Such a checkout was never answered 201 (that needs the completed key), so it is cancelled, never completed."""
    unfinished = dict(_UNFINISHED_UNDOS.get(id(database), {}))
    now = datetime.now(UTC).replace(tzinfo=None)
    async with database.sessionmaker() as session:
        rows = await session.execute(
            select(CheckoutKey.idempotency_key, CheckoutKey.order_id)
            .where(
                CheckoutKey.completed.is_(False),
                CheckoutKey.order_id.is_not(None),
                CheckoutKey.lease_until < now,
            )
            .limit(100)
        )
        expired = {key: int(order) for key, order in rows.all() if order is not None and key not in unfinished}
    finished = 0
    for key, order_id in unfinished.items():
        await _undo(database, peers, key=key, order_id=order_id)
        finished += 1
    for key, order_id in expired.items():
        if await _claim(database, key) is not None:  # not resumed by its client meanwhile
            log.warning("checkout_abandoned", order_id=order_id)
            await _undo(database, peers, key=key, order_id=order_id)
            finished += 1
    return finished


@contextlib.asynccontextmanager
async def stock_release_worker(app: FastAPI) -> AsyncIterator[None]:
    """Background task: keep retrying deferred stock releases until product-service takes them."""
    _LEASES[id(app.state.database)] = getattr(app.state.settings, "checkout_lease_seconds", LEASE_SECONDS)

    async def loop() -> None:
        while True:
            await asyncio.sleep(RELEASE_RETRY_SECONDS)
            try:
                await finish_checkouts(app.state.database, app.state.peers)
                await release_pending_stock(app.state.database, app.state.peers)
            except Exception as exc:  # the loop must survive a database hiccup
                if database_unavailable(exc):
                    log.warning("checkout_worker_waiting_for_database", error=type(exc).__name__)
                else:
                    log.exception("stock_release_retry_failed")

    task = asyncio.create_task(loop())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _hash(user_id: int, lines: dict[int, int]) -> str:
    canonical = orjson.dumps({"userId": user_id, "items": sorted(lines.items())})
    return hashlib.sha256(canonical).hexdigest()

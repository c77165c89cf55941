"""Reliable events between services: a transactional outbox, a relay over the peer calls, and an inbox.

- `publish` adds an event to the service's `outbox_events` table in the caller's transaction: the event exists
  exactly when the change it announces was committed.
- The relay (`OutboxRelay`, run in the background by `outbox_extension`) POSTs each event to its consumer over
  `PeerClient`, at least once, in commit order per aggregate and destination: an event waits while an earlier one
  of its aggregate is undelivered. A peer that cannot answer is retried with exponential backoff and jitter; a
  consumer that refuses an event (4xx) gets it no more and the refusal is counted (a dead letter, for the reconciler
  and the alerts). `deliver_now` delivers right after a commit, so a healthy shop follows at once.
- A consumer calls `consume` in the transaction of its own change: it records the event id in its
  `processed_events` table and says whether the event is new, so a delivery seen twice changes nothing twice.

Both tables are created by each service's own migration (`outbox_table`, `inbox_table` give their shape).
The transport is HTTP so `make up` needs no broker; the outbox stays the source whatever carries the events.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
import uuid
import weakref
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import orjson
import structlog
from fastapi import FastAPI
from fastapi.params import Depends as DependsParam
from prometheus_client import Counter, Gauge
from sqlalchemy import (
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    bindparam,
    func,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from ecommerce.chassis import access
from ecommerce.chassis.database import InsertNew
from ecommerce.chassis.http import PeerClient, PeerError, PeerUnavailable
from ecommerce.chassis.wire import ApiModel

log = structlog.get_logger("ecommerce.outbox")

OUTBOX = "outbox_events"
INBOX = "processed_events"
BATCH = 100
POLL_SECONDS = 1.0
BACKOFF_BASE_SECONDS = 0.5
BACKOFF_MAX_SECONDS = 30.0
DELIVER_WAIT_SECONDS = 2.0
_PUBLISHED = "ecommerce.outbox.published"  # session.info key: this session published an event since its last commit

DELIVERED = Counter("outbox_events_delivered", "Events delivered to their consumer", ["application", "event_type"])
RETRIED = Counter("outbox_delivery_retries", "Deliveries that failed and will be retried", ["application"])
REFUSED = Counter("outbox_events_refused", "Events a consumer refused (not retried)", ["application", "event_type"])
PENDING = Gauge("outbox_events_pending", "Events not yet delivered", ["application"])
DUPLICATES = Counter("inbox_duplicates", "Events received again and ignored", ["application", "event_type"])


class Event(ApiModel):
    """What a consumer receives: `POST <context>/api/events`."""

    event_id: str
    event_type: str
    aggregate_id: int
    payload: dict[str, Any]


def event_senders(*components: str) -> DependsParam:
    """The dependency guarding a service's `POST /api/events`: only these components may deliver events.

    The consumers' one access rule: a service token (`X-Service-Token`) of one of `components` (access.py);
    no token is 401, a user's token (even an administrator's) or another component's is 403. An event changes
    rows on the word of its publisher alone, so no person may post one.
    """
    return access.require_service(*components)


def outbox_table(metadata: MetaData) -> Table:
    """The outbox's shape, on a service's own metadata (and in its migration)."""
    return Table(
        OUTBOX,
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("event_id", String(36), nullable=False),
        Column("event_type", String(64), nullable=False),
        Column("aggregate_id", Integer, nullable=False),
        Column("destination", String(64), nullable=False),
        Column("path", String(255), nullable=False),
        Column("payload", Text, nullable=False),
        Column("created_at", DateTime(), server_default=text("CURRENT_TIMESTAMP"), nullable=False),
        Column("attempts", Integer, nullable=False, server_default=text("0")),
        Column("next_attempt_at", DateTime(), nullable=True),
        Column("delivered_at", DateTime(), nullable=True),
        Column("last_error", String(255), nullable=True),
        UniqueConstraint("event_id", "destination", name="uq_outbox_events_event_id_destination"),
        Index("ix_outbox_events_pending", "delivered_at", "id"),
        sqlite_autoincrement=True,
    )


def inbox_table(metadata: MetaData) -> Table:
    """The inbox's shape: one row per event already applied."""
    return Table(
        INBOX,
        metadata,
        Column("event_id", String(36), primary_key=True),
        Column("event_type", String(64), nullable=False),
        Column("processed_at", DateTime(), server_default=text("CURRENT_TIMESTAMP"), nullable=False),
    )


class _TableStatements(NamedTuple):
    """The statements `publish` (on an outbox) and `consume` (on an inbox) run on one table, built once."""

    insert: Any
    insert_new: InsertNew


@functools.cache
def _statements(table: Table) -> _TableStatements:
    """Built once per table (each service has its own), not per call (chassis/database.py says why)."""
    return _TableStatements(insert=table.insert(), insert_new=InsertNew(table, "event_id"))


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


async def publish(
    session: AsyncSession,
    table: Table,
    *,
    event_type: str,
    aggregate_id: int,
    payload: dict[str, Any],
    destinations: Sequence[str],
) -> str:
    """Write one event for each destination peer (delivered to `/<peer>/api/events`) in the caller's transaction."""
    event_id = str(uuid.uuid4())
    body = orjson.dumps(payload).decode()
    await session.execute(
        _statements(table).insert,
        [
            {
                "event_id": event_id,
                "event_type": event_type,
                "aggregate_id": aggregate_id,
                "destination": peer,
                "path": f"/{peer}/api/events",
                "payload": body,
                "attempts": 0,
            }
            for peer in destinations
        ],
    )
    session.info[_PUBLISHED] = True
    return event_id


async def in_flight(session: AsyncSession, table: Table, aggregate_ids: Sequence[int]) -> set[int]:
    """The aggregates among these with an event still undelivered: their consumers have yet to follow (a
    reconciler leaves them to the relay instead of publishing the same news again)."""
    if not aggregate_ids:
        return set()
    rows = await session.execute(
        select(table.c.aggregate_id)
        .where(table.c.delivered_at.is_(None), table.c.aggregate_id.in_(sorted(set(aggregate_ids))))
        .distinct()
    )
    return {int(row.aggregate_id) for row in rows}


async def consume(session: AsyncSession, table: Table, event: Event, application: str) -> bool:
    """Record the event as processed in the caller's transaction; False when it was processed before."""
    statement = _statements(table).insert_new.for_session(session)
    done = await session.execute(statement, {"event_id": event.event_id, "event_type": event.event_type})
    if int(done.rowcount) == 1:  # type: ignore[attr-defined]
        return True
    DUPLICATES.labels(application, event.event_type).inc()
    return False


class OutboxRelay:
    """Delivers a service's outbox over its PeerClient, a round at a time.

    A round reads the undelivered events in one statement, delivers each (destination, aggregate)'s events in
    order while different aggregates go out concurrently, then marks what was delivered in one statement.
    Commits that ask for delivery while a round runs share the next round (`deliver_soon`), so a busy service
    runs one round per batch of commits instead of one round, and one reading of the table, per commit.
    """

    def __init__(self, *, application: str, engine: AsyncEngine, table: Table, peers: PeerClient) -> None:
        self.application = application
        self.engine = engine
        # Each statement on its own on PostgreSQL (no BEGIN and COMMIT/ROLLBACK round trips around it): the relay's
        # reads, and its marks (each UPDATE is atomic by itself, and marking twice is harmless).
        self.autocommit = (
            engine if engine.dialect.name == "sqlite" else engine.execution_options(isolation_level="AUTOCOMMIT")
        )
        self.table = table
        self.peers = peers
        # A round's statements, built once for this relay's table (see _statements).
        t = table
        self._undelivered = (
            select(
                t.c.id,
                t.c.event_id,
                t.c.event_type,
                t.c.aggregate_id,
                t.c.destination,
                t.c.path,
                t.c.payload,
                t.c.attempts,
                t.c.next_attempt_at,
            )
            .where(t.c.delivered_at.is_(None))
            .order_by(t.c.id)
            .limit(BATCH)
        )
        self._mark = (
            update(t)
            .where(t.c.id.in_(bindparam("b_ids", expanding=True)))
            .values(delivered_at=bindparam("b_now"), last_error=None)
        )
        self._mark_refused = (
            update(t)
            .where(t.c.id == bindparam("b_id"))
            .values(delivered_at=bindparam("b_now"), last_error=bindparam("b_error"))
        )
        self.wakeup = asyncio.Event()
        self._lock = asyncio.Lock()
        self._next_round: asyncio.Future[int] | None = None
        self._rounds: asyncio.Task[None] | None = None

    async def run_once(self) -> int:
        """Deliver what is due, oldest first, keeping each aggregate's order; returns how many were delivered."""
        async with self._lock:
            rows, pending = await self._due()
            chains: dict[tuple[str, int], list[Any]] = {}
            for row in rows:
                chains.setdefault((row.destination, row.aggregate_id), []).append(row)
            outcomes = await asyncio.gather(*(self._deliver_chain(chain) for chain in chains.values()))
            done = [(row_id, error) for outcome in outcomes for row_id, error in outcome]
            await self._mark_delivered(done)
            if pending is not None:
                PENDING.labels(self.application).set(pending - len(done))
            else:
                await self._count_pending()
            return len(done)

    def deliver_soon(self) -> asyncio.Future[int]:
        """A round that starts after this call (the one already running may have missed the caller's commit);
        resolves with how many events that round delivered."""
        if self._next_round is None:
            self._next_round = asyncio.get_running_loop().create_future()
        if self._rounds is None or self._rounds.done():
            self._rounds = asyncio.create_task(self._run_requested_rounds())
        return self._next_round

    async def _run_requested_rounds(self) -> None:
        while self._next_round is not None:
            waiting, self._next_round = self._next_round, None
            try:
                waiting.set_result(await self.run_once())
            except Exception as exc:  # the change is committed; delivery is the relay's job from here
                log.warning("outbox_immediate_delivery_failed", error=f"{type(exc).__name__}: {exc}"[:300])
                waiting.set_result(0)

    async def _due(self) -> tuple[list[Any], int | None]:
        """The events due now (an event not yet due holds back the later events of its aggregate), and how many
        are undelivered when the batch holds them all (None: more than a batch, count them)."""
        now = _now()
        async with self.autocommit.connect() as conn:
            undelivered = (await conn.execute(self._undelivered)).all()
        due = []
        waiting: set[tuple[str, int]] = set()
        for row in undelivered:
            key = (row.destination, row.aggregate_id)
            if key in waiting:
                continue
            if row.next_attempt_at is not None and row.next_attempt_at > now:
                waiting.add(key)
                continue
            due.append(row)
        return due, (len(undelivered) if len(undelivered) < BATCH else None)

    async def _deliver_chain(self, rows: list[Any]) -> list[tuple[int, str | None]]:
        """One aggregate's events to one destination, in order, stopping at the first that must wait."""
        done: list[tuple[int, str | None]] = []
        for row in rows:
            delivered, error = await self._deliver(row)
            if not delivered:
                break
            done.append((row.id, error))
        return done

    async def _deliver(self, row: Any) -> tuple[bool, str | None]:
        """(delivered, the refusal to keep with it); a failed delivery is scheduled again with backoff."""
        body = {
            "eventId": row.event_id,
            "eventType": row.event_type,
            "aggregateId": row.aggregate_id,
            "payload": orjson.loads(row.payload),
        }
        try:
            await self.peers.post_json(row.destination, row.path, json=body, idempotent=True)
        except PeerUnavailable as exc:
            await self._retry_later(row, str(exc))
            return False, None
        except PeerError as exc:
            # The consumer refused it: retrying cannot help. Marked done with the reason; the reconciler and the
            # refused-events counter make it visible.
            REFUSED.labels(self.application, row.event_type).inc()
            log.warning("event_refused", event_id=row.event_id, destination=row.destination, status=exc.status)
            return True, f"refused {exc.status}: {_msg(exc)}"[:255]
        DELIVERED.labels(self.application, row.event_type).inc()
        return True, None

    async def _retry_later(self, row: Any, error: str) -> None:
        RETRIED.labels(self.application).inc()
        delay = min(BACKOFF_BASE_SECONDS * 2 ** min(row.attempts, 16), BACKOFF_MAX_SECONDS)
        delay *= 0.5 + random.random()
        async with self.autocommit.begin() as conn:
            await conn.execute(
                update(self.table)
                .where(self.table.c.id == row.id)
                .values(
                    attempts=row.attempts + 1, next_attempt_at=_now() + timedelta(seconds=delay), last_error=error[:255]
                )
            )

    async def _mark_delivered(self, done: list[tuple[int, str | None]]) -> None:
        """One statement for the round's deliveries (a refusal keeps its reason, one statement more)."""
        if not done:
            return
        now = _now()
        clean = [row_id for row_id, error in done if error is None]
        async with self.autocommit.begin() as conn:
            if clean:
                await conn.execute(self._mark, {"b_ids": clean, "b_now": now})
            for row_id, error in done:
                if error is not None:
                    await conn.execute(self._mark_refused, {"b_id": row_id, "b_now": now, "b_error": error})

    async def _count_pending(self) -> None:
        async with self.autocommit.connect() as conn:
            pending = (
                await conn.execute(
                    select(func.count()).select_from(self.table).where(self.table.c.delivered_at.is_(None))
                )
            ).scalar_one()
        PENDING.labels(self.application).set(pending)


async def commit_and_deliver(session: AsyncSession) -> None:
    """Commit the caller's transaction, then deliver what it published at once (the relay retries what fails); a
    transaction that published nothing asks for no delivery round."""
    published = session.info.pop(_PUBLISHED, False)
    await session.commit()
    if published and session.bind is not None:
        await deliver_now(session.bind)


async def deliver_now(bind: Any) -> None:
    """Deliver what was just committed on this engine, waiting at most DELIVER_WAIT_SECONDS: a slow consumer does
    not hold up the caller's answer (the delivery goes on in the background, and the relay retries what fails)."""
    relay = _RELAYS.get(bind)
    if relay is None:
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(relay.deliver_soon()), DELIVER_WAIT_SECONDS)


def outbox_extension(table: Table) -> Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]]:
    """A ServiceSpec extension: `app.state.outbox` is the relay, run every POLL_SECONDS and when woken."""

    @contextlib.asynccontextmanager
    async def extension(app: FastAPI) -> AsyncIterator[None]:
        relay = OutboxRelay(
            application=app.state.spec.name, engine=app.state.database.engine, table=table, peers=app.state.peers
        )
        app.state.outbox = relay
        _RELAYS[relay.engine] = relay

        async def loop() -> None:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(relay.wakeup.wait(), POLL_SECONDS)
                relay.wakeup.clear()
                try:
                    await relay.run_once()
                except Exception as exc:  # the loop must outlive a database or peer hiccup
                    log.warning("outbox_relay_round_failed", error=f"{type(exc).__name__}: {exc}"[:300])

        task = asyncio.create_task(loop())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    return extension


# The running relay of each database engine, so a service function holding only its session can deliver.
_RELAYS: weakref.WeakKeyDictionary[Any, OutboxRelay] = weakref.WeakKeyDictionary()


def _msg(exc: PeerError) -> str:
    return str(exc.body.get("msg")) if isinstance(exc.body, dict) and exc.body.get("msg") else str(exc)

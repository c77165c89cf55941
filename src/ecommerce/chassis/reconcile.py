"""Reconcilers: find and repair what a crash left half-done between two services that must agree.

The outbox makes every event exist exactly when its change was committed, and the relay delivers it at least once;
what remains is what no event can say: a consumer that refused an event, a row changed by hand, data from before
the events, an event stuck at a consumer that keeps failing. A reconciler compares one pair of services (its
`pair`, e.g. "orders-payments") and repairs each divergence the way the flow would have (re-publishing the missing
event, releasing stock, failing a payment), always with conditional writes, so running it twice, or beside the
flows themselves, repairs nothing twice. A divergence it cannot repair safely (money taken for a cancelled order)
is only counted: that is for a person, and the alert says so.

It runs inside the service that owns the decision, every `reconcile_interval_seconds` (a setting; 0: on demand
only), and on demand through `POST <context>/actuator/reconcile` (the operator's, like every management endpoint;
`ecommerce reconcile` calls it). Only rows older than `reconcile_grace_seconds` count, so a purchase in flight is
not taken for a divergence. Metrics, per pair and kind: `shop_reconcile_found_total`, `shop_reconcile_repaired_total`;
per pair: `shop_reconcile_runs_total{outcome}` and `shop_reconcile_last_success_timestamp_seconds`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, FastAPI, Query, Request
from prometheus_client import Counter, Gauge
from sqlalchemy import Table, and_, func, select, update

from ecommerce.chassis.actuator import ManagementCaller
from ecommerce.chassis.http import PeerClient

log = structlog.get_logger("ecommerce.reconcile")

BATCH = 500  # rows compared per peer call (the peers' `?ids=` take up to 1000)

FOUND = Counter("shop_reconcile_found", "Divergences a reconciler found", ["application", "pair", "kind"])
REPAIRED = Counter("shop_reconcile_repaired", "Divergences a reconciler repaired", ["application", "pair", "kind"])
RUNS = Counter("shop_reconcile_runs", "Reconciler runs", ["application", "pair", "outcome"])
LAST_SUCCESS = Gauge(
    "shop_reconcile_last_success_timestamp_seconds", "When a reconciler last ran to the end", ["application", "pair"]
)


@dataclass
class Tally:
    """What one run of one reconciler found and repaired, by kind of divergence."""

    pair: str
    found: dict[str, int] = field(default_factory=dict)
    repaired: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, *, repaired: bool) -> None:
        self.found[kind] = self.found.get(kind, 0) + 1
        if repaired:
            self.repaired[kind] = self.repaired.get(kind, 0) + 1


@dataclass(frozen=True)
class Context:
    """What a check needs: the service's app (database, peers, outbox relay) and the age a row must have."""

    app: FastAPI
    cutoff: datetime  # naive UTC, like the stored times: rows changed after it are in flight

    @property
    def peers(self) -> PeerClient:
        peers: PeerClient = self.app.state.peers
        return peers


Check = Callable[[Context, Tally], Awaitable[None]]


@dataclass(frozen=True)
class Reconciler:
    """One pair of services that must agree, and the check that compares and repairs them."""

    pair: str
    check: Check


async def run_all(app: FastAPI, grace_seconds: float | None = None) -> list[dict[str, Any]]:
    """Run every reconciler of this service once (one run at a time); returns what each found and repaired."""
    reconcilers: tuple[Reconciler, ...] = getattr(app.state, "reconcilers", ())
    lock: asyncio.Lock = app.state.reconcile_lock
    grace = app.state.settings.reconcile_grace_seconds if grace_seconds is None else grace_seconds
    application = app.state.spec.name
    results = []
    async with lock:
        for reconciler in reconcilers:
            now = datetime.now(UTC).replace(tzinfo=None)
            tally = Tally(reconciler.pair)
            error = None
            try:
                await reconciler.check(Context(app, now - timedelta(seconds=grace)), tally)
            except Exception as exc:  # a peer or the database is out: what was counted so far still counts
                error = f"{type(exc).__name__}: {exc}"[:300]
                log.warning("reconcile_failed", pair=reconciler.pair, error=error)
            _export(application, tally, error)
            results.append({"pair": tally.pair, "found": tally.found, "repaired": tally.repaired, "error": error})
    return results


def _export(application: str, tally: Tally, error: str | None) -> None:
    for kind, count in tally.found.items():
        FOUND.labels(application, tally.pair, kind).inc(count)
        REPAIRED.labels(application, tally.pair, kind).inc(tally.repaired.get(kind, 0))
    RUNS.labels(application, tally.pair, "failed" if error else "ok").inc()
    if error is None:
        LAST_SUCCESS.labels(application, tally.pair).set(time.time())
    if tally.found:
        log.warning("reconcile_divergence", pair=tally.pair, found=tally.found, repaired=tally.repaired)


def reconcile_extension(*reconcilers: Reconciler) -> Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]]:
    """A ServiceSpec extension: these reconcilers run every `reconcile_interval_seconds` and on demand."""

    @contextlib.asynccontextmanager
    async def extension(app: FastAPI) -> AsyncIterator[None]:
        app.state.reconcilers = reconcilers
        app.state.reconcile_lock = asyncio.Lock()
        interval = app.state.settings.reconcile_interval_seconds

        async def loop() -> None:
            while True:
                await asyncio.sleep(interval)
                await run_all(app)

        task = asyncio.create_task(loop()) if interval > 0 else None
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    return extension


def reconcile_router() -> APIRouter:
    """`POST <context>/actuator/reconcile[?graceSeconds=]`: run this service's reconcilers now (the operator's)."""
    router = APIRouter(prefix="/actuator", tags=["actuator"], dependencies=[ManagementCaller])

    @router.post("/reconcile")
    async def reconcile(
        request: Request, grace_seconds: Annotated[float | None, Query(alias="graceSeconds", ge=0, le=86400)] = None
    ) -> dict[str, Any]:
        return {"results": await run_all(request.app, grace_seconds)}

    return router


async def peer_rows(peers: PeerClient, peer: str, path: str, ids: Iterable[int], key: str) -> dict[int, dict[str, Any]]:
    """The peer's rows with these ids (`GET path?ids=`), by id; raises when the peer cannot say (a peer that is out
    must never read as rows that do not exist)."""
    wanted = sorted(set(ids))
    rows: dict[int, dict[str, Any]] = {}
    for start in range(0, len(wanted), BATCH):
        chunk = ",".join(map(str, wanted[start : start + BATCH]))
        body = await peers.get_json(peer, path, params={"ids": chunk})
        for row in body.get("collection", []) if isinstance(body, dict) else []:
            if isinstance(row, dict) and isinstance(row.get(key), int):
                rows[row[key]] = row
    return rows


def outbox_reconciler(table: Table) -> Reconciler:
    """Pair "outbox", kind "event_stuck": events older than the grace period and still undelivered (a consumer that
    kept failing, a backoff grown long). Repaired: retried now, and delivered by that retry."""

    async def check(context: Context, tally: Tally) -> None:
        engine = context.app.state.database.engine
        stuck = and_(table.c.delivered_at.is_(None), table.c.created_at < context.cutoff)
        async with engine.begin() as conn:
            ids = [row.id for row in (await conn.execute(select(table.c.id).where(stuck).limit(BATCH))).all()]
            if ids:
                await conn.execute(update(table).where(table.c.id.in_(ids)).values(next_attempt_at=None))
        if not ids:
            return
        relay = getattr(context.app.state, "outbox", None)
        if relay is not None:
            await relay.run_once()
        async with engine.connect() as conn:
            left = (
                await conn.execute(
                    select(func.count()).select_from(table).where(table.c.id.in_(ids), table.c.delivered_at.is_(None))
                )
            ).scalar_one()
        for index in range(len(ids)):
            tally.add("event_stuck", repaired=index >= left)

    return Reconciler("outbox", check)

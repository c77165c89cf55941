"""The outbox relay: at least once, in order per aggregate, retried with backoff; the inbox ignores duplicates."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from stub_peer import stub_peer

from ecommerce.chassis import Database, ServiceSettings, new_metadata
from ecommerce.chassis.http import PeerClient
from ecommerce.chassis.outbox import Event, OutboxRelay, consume, inbox_table, outbox_table, publish


async def test_delivered_in_order_after_the_peer_comes_back_and_consumed_once(tmp_path: Path) -> None:
    metadata = new_metadata()
    outbox, inbox = outbox_table(metadata), inbox_table(metadata)
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'o.db'}", application="test-service")
    async with database.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    with stub_peer() as peer:
        peers = PeerClient(
            application="test-service",
            settings=ServiceSettings(peers={"order-service": peer.url}, peer_retries=0),
        )
        await peers.start()
        try:
            async with database.sessionmaker() as session, session.begin():
                for kind in ("First", "Second"):
                    await publish(
                        session, outbox, event_type=kind, aggregate_id=7, payload={}, destinations=["order-service"]
                    )
            relay = OutboxRelay(application="test-service", engine=database.engine, table=outbox, peers=peers)
            peer.answers[("POST", "/order-service/api/events")] = (503, {"msg": "down"})
            assert await relay.run_once() == 0
            assert [body["eventType"] for _, _, body in peer.calls] == ["First"]  # the second waits its turn
            async with database.engine.begin() as conn:  # the backoff has passed
                await conn.execute(outbox.update().values(next_attempt_at=None))
            peer.answers[("POST", "/order-service/api/events")] = (200, {"applied": True})
            assert await relay.run_once() == 2
            assert [body["eventType"] for _, _, body in peer.calls] == ["First", "First", "Second"]
            assert await relay.run_once() == 0
        finally:
            await peers.close()
    event = Event(event_id=peer.calls[-1][2]["eventId"], event_type="Second", aggregate_id=7, payload={})
    async with database.sessionmaker() as session, session.begin():
        assert await consume(session, inbox, event, "test-service") is True
    async with database.sessionmaker() as session, session.begin():
        assert await consume(session, inbox, event, "test-service") is False
        assert len((await session.execute(select(inbox.c.event_id))).all()) == 1
    await database.dispose()

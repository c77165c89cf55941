"""Who may deliver events: `POST /<service>/api/events` takes only the allow-listed components' service tokens.

An anonymous caller is 401, a shopper's or an administrator's token 403, a component not on the list 403; the
allowed sender's delivery is applied (SQLite and the real PostgreSQL).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from shop_testing import admin_headers, postgres_database, service_headers, user_headers

from ecommerce.chassis import ServiceSpec
from ecommerce.services.orders import SPEC as ORDERS
from ecommerce.services.payments import SPEC as PAYMENTS
from ecommerce.services.products import SPEC as PRODUCTS
from ecommerce.services.shipping import SPEC as SHIPPING

# consumer, its allowed sender, a component that is not allowed, an event the allowed sender may send
CASES = [
    (PRODUCTS, "order-service", "favourite-service", "OrderCancelled"),
    (SHIPPING, "order-service", "user-service", "OrderCancelled"),
    (PAYMENTS, "order-service", "shipping-service", "OrderCancelled"),
    (ORDERS, "payment-service", "favourite-service", "PaymentFailed"),
]


@pytest_asyncio.fixture(params=["sqlite", "postgres"])
async def own_database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A database of the consumer's own (each service has its own migrations)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'events.db'}"
        return
    async with postgres_database() as url:
        yield url


def _event(kind: str, aggregate_id: int) -> dict[str, Any]:
    return {"eventId": str(uuid.uuid4()), "eventType": kind, "aggregateId": aggregate_id, "payload": {}}


@pytest.mark.parametrize(("spec", "sender", "stranger", "kind"), CASES, ids=[case[0].name for case in CASES])
async def test_only_allowed_components_deliver_events(
    own_database: str, make_client: Callable[..., Any], spec: ServiceSpec, sender: str, stranger: str, kind: str
) -> None:
    path = f"{spec.context_path}/api/events"
    async with make_client(spec, database_url=own_database, seed_demo_data=True, headers={}) as client:
        anonymous = await client.post(path, json=_event(kind, 1))
        assert anonymous.status_code == 401, anonymous.text
        assert (await client.post(path, json=_event(kind, 1), headers=user_headers(1))).status_code == 403
        assert (await client.post(path, json=_event(kind, 1), headers=admin_headers())).status_code == 403
        other = await client.post(path, json=_event(kind, 1), headers=service_headers(stranger, spec.name))
        assert other.status_code == 403, other.text
        # order 999999 exists nowhere: consumers that look the order up refuse it (404), the others apply it
        allowed = await client.post(path, json=_event(kind, 999_999), headers=service_headers(sender, spec.name))
        assert allowed.status_code in (200, 404), allowed.text

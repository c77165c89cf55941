"""proxy-client rate-limits /app itself (issue 13, item 4): a token bucket per client, the signed-in user or else the
right-most address no trusted proxy added, so a client reaching the storefront directly is limited as at the gateway
and rotating X-Forwarded-For gains nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from ecommerce.chassis import create_app
from ecommerce.services.storefront import SPEC
from ecommerce.services.storefront.tokens import issue

PATH = "/app/.well-known/jwks.json"  # answered by the storefront alone
BURST = 5


@pytest_asyncio.fixture
async def shop(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    settings = SPEC.settings_cls(
        data_dir=tmp_path,
        access_log=False,
        trusted_proxies=["10.9.0.0/16"],
        rate_limit_per_second=0.5,  # no token comes back while a test runs
        rate_limit_burst=BURST,
    )
    app = create_app(SPEC, settings)
    async with app.router.lifespan_context(app):

        @asynccontextmanager
        async def client_from(address: str) -> AsyncIterator[httpx.AsyncClient]:
            transport = httpx.ASGITransport(app=app, client=(address, 40000))
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
                client.app = app  # type: ignore[attr-defined]
                yield client

        yield client_from


async def statuses(client: httpx.AsyncClient, count: int, **headers: str) -> list[int]:
    return [(await client.get(PATH, headers=headers)).status_code for _ in range(count)]


def token_for(client: httpx.AsyncClient, user_id: int, username: str) -> str:
    app = client.app  # type: ignore[attr-defined]
    settings = app.state.settings
    return issue(
        app.state.keys,
        user_id=user_id,
        username=username,
        role="ROLE_USER",
        ttl_seconds=600,
        issuer=settings.jwt_issuer,
    )


async def test_a_burst_beyond_the_limit_gets_429_with_the_error_body_and_retry_after(shop: Callable[..., Any]) -> None:
    async with shop("203.0.113.7") as client:
        assert await statuses(client, BURST) == [200] * BURST
        refused = await client.get(PATH)
        assert refused.status_code == 429
        body = refused.json()
        assert set(body) == {"timestamp", "httpStatus", "msg", "path", "traceId"}
        assert (body["httpStatus"], body["path"]) == ("TOO_MANY_REQUESTS", PATH)
        assert int(refused.headers["retry-after"]) >= 1
        assert refused.headers["x-content-type-options"] == "nosniff"  # the security headers are on it too


async def test_pages_and_assets_are_limited_too(shop: Callable[..., Any]) -> None:
    async with shop("203.0.113.9") as client:
        answers = [await client.get("/app/static/shop.css") for _ in range(BURST + 1)]
        assert [a.status_code for a in answers] == [200] * BURST + [429]
        assert (await client.get("/app/no-such-page")).status_code == 429


async def test_another_client_is_unaffected(shop: Callable[..., Any]) -> None:
    async with shop("203.0.113.7") as first, shop("203.0.113.8") as second:
        await statuses(first, BURST + 2)
        assert (await first.get(PATH)).status_code == 429
        assert await statuses(second, BURST) == [200] * BURST


async def test_spoofed_forwarded_for_from_an_untrusted_peer_gets_no_fresh_bucket(shop: Callable[..., Any]) -> None:
    async with shop("198.51.100.9") as client:
        answers = [
            (await client.get(PATH, headers={"X-Forwarded-For": f"192.0.2.{i}"})).status_code for i in range(BURST + 3)
        ]
        assert answers == [200] * BURST + [429] * 3


async def test_a_trusted_proxys_right_most_entry_is_the_client(shop: Callable[..., Any]) -> None:
    async with shop("10.9.0.5") as proxy:
        assert await statuses(proxy, BURST, **{"X-Forwarded-For": "203.0.113.50"}) == [200] * BURST
        assert await statuses(proxy, 1, **{"X-Forwarded-For": "203.0.113.50"}) == [429]
        # What the client wrote left of the proxy's entry changes nothing ...
        assert await statuses(proxy, 1, **{"X-Forwarded-For": "192.0.2.1, 203.0.113.50"}) == [429]
        # ... while another client behind the same proxy has its own bucket, and the proxy itself is not throttled.
        assert await statuses(proxy, 1, **{"X-Forwarded-For": "203.0.113.51"}) == [200]
        assert await statuses(proxy, 1) == [200]


async def test_signed_in_users_have_their_own_buckets_whatever_their_address(shop: Callable[..., Any]) -> None:
    async with shop("203.0.113.60") as client:
        alice = {"Authorization": f"Bearer {token_for(client, 41, 'alice')}"}
        bob_cookie = token_for(client, 42, "bob")
        assert await statuses(client, BURST + 1) == [200] * BURST + [429]  # the address is spent
        assert await statuses(client, BURST + 1, **alice) == [200] * BURST + [429]
        client.cookies.set("shop_session", bob_cookie)
        assert await statuses(client, BURST) == [200] * BURST
    async with shop("198.51.100.61") as elsewhere:
        assert await statuses(elsewhere, 1, **alice) == [429]  # the same user from another address: one bucket


async def test_a_forged_token_counts_against_the_address(shop: Callable[..., Any]) -> None:
    async with shop("203.0.113.70") as client:
        forged = [f"Bearer {token_for(client, 50 + i, f'user{i}')[:-4]}AAAA" for i in range(BURST + 2)]
        answers = [(await client.get(PATH, headers={"Authorization": f})).status_code for f in forged]
        assert answers == [200] * BURST + [429] * 2


async def test_a_refreshed_rate_applies_at_once(shop: Callable[..., Any]) -> None:
    async with shop("203.0.113.80") as client:
        assert await statuses(client, BURST + 1) == [200] * BURST + [429]
        client.app.state.settings.rate_limit_per_second = 1000.0  # what POST /app/actuator/refresh does, in place
        await asyncio.sleep(0.01)  # ten tokens at the new rate, none at the old
        assert await statuses(client, 1) == [200]


def test_rate_limit_settings() -> None:
    defaults = SPEC.settings_cls()
    assert (defaults.rate_limit_per_second, defaults.rate_limit_burst) == (100.0, 200)
    named = SPEC.settings_cls(STOREFRONT_RATE_LIMIT_PER_SECOND="7.5", STOREFRONT_RATE_LIMIT_BURST="30")
    assert (named.rate_limit_per_second, named.rate_limit_burst) == (7.5, 30)
    with pytest.raises(ValueError):
        SPEC.settings_cls(rate_limit_per_second=0)
    with pytest.raises(ValueError):
        SPEC.settings_cls(rate_limit_burst=0)


def test_a_running_storefront_limits_direct_clients(running_service: Callable[..., Any]) -> None:
    service = running_service(
        "proxy-client", env={"STOREFRONT_RATE_LIMIT_PER_SECOND": "0.5", "STOREFRONT_RATE_LIMIT_BURST": "4"}
    )
    with httpx.Client(base_url=service.url, timeout=5) as client:
        answers = [client.get(PATH) for _ in range(8)]
    codes = [a.status_code for a in answers]
    assert codes.count(200) <= 4 and codes[-1] == 429, codes
    assert answers[-1].json()["httpStatus"] == "TOO_MANY_REQUESTS"
    assert int(answers[-1].headers["retry-after"]) >= 1


def test_a_running_storefront_gives_no_fresh_bucket_to_forwarded_for_from_loopback(
    running_service: Callable[..., Any],
) -> None:
    """uvicorn must not apply a loopback peer's X-Forwarded-For before the app sees the peer (`ecommerce run` serves
    with proxy_headers off); with it on, every request here got a fresh bucket."""
    service = running_service(
        "proxy-client", env={"STOREFRONT_RATE_LIMIT_PER_SECOND": "0.5", "STOREFRONT_RATE_LIMIT_BURST": "4"}
    )
    with httpx.Client(base_url=service.url, timeout=5) as client:
        codes = [client.get(PATH, headers={"X-Forwarded-For": f"192.0.2.{i}"}).status_code for i in range(8)]
    assert codes.count(200) <= 4 and codes[-1] == 429, codes

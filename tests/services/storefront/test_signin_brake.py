"""The sign-in brake (issue 13, item 4): attempts are reserved before the password is checked, the client is the
right-most address no trusted proxy added, and failures count per account from an address and per address, so a
guesser elsewhere can neither get many tries at one account nor lock its owner out."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest_asyncio

from ecommerce.chassis import create_app
from ecommerce.chassis.http import PeerAnswer
from ecommerce.services.storefront import SPEC

PASSWORD = "right-password"


class CountingUsers:
    """Stands in for the PeerClient: user-service's credential check, slow enough for guesses to overlap."""

    def __init__(self) -> None:
        self.verifications = 0

    async def exchange(self, method: str, peer: str, path: str, **kwargs: Any) -> PeerAnswer:
        assert path.endswith("/credentials/verify"), path
        self.verifications += 1
        await asyncio.sleep(0.05)
        if kwargs["json"]["password"] == PASSWORD:
            user = {"userId": 9, "username": kwargs["json"]["username"], "roleBasedAuthority": "ROLE_USER"}
            return PeerAnswer(200, user, {})
        return PeerAnswer(401, {"msg": "Bad credentials"}, {})


@pytest_asyncio.fixture
async def shop(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    settings = SPEC.settings_cls(data_dir=tmp_path, access_log=False, trusted_proxies=["10.9.0.0/16"])
    app = create_app(SPEC, settings)
    async with app.router.lifespan_context(app):
        users = CountingUsers()
        app.state.peers = users

        @asynccontextmanager
        async def client_from(address: str) -> AsyncIterator[httpx.AsyncClient]:
            transport = httpx.ASGITransport(app=app, client=(address, 40000))
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
                client.users = users  # type: ignore[attr-defined]
                yield client

        yield client_from


async def sign_in(client: httpx.AsyncClient, password: str, **headers: str) -> int:
    answer = await client.post(
        "/app/api/authenticate", json={"username": "victim", "password": password}, headers=headers
    )
    return answer.status_code


async def test_200_concurrent_guesses_get_a_handful_of_checks(shop: Callable[..., Any]) -> None:
    async with shop("203.0.113.7") as client:
        statuses = await asyncio.gather(*(sign_in(client, f"guess-{i}") for i in range(200)))
        assert client.users.verifications <= 5, client.users.verifications
        assert set(statuses) <= {401, 429} and statuses.count(429) >= 195


async def test_the_right_password_among_concurrent_guesses_is_checked_once_at_most(shop: Callable[..., Any]) -> None:
    async with shop("203.0.113.8") as client:
        guesses = [f"guess-{i}" for i in range(199)] + [PASSWORD]
        statuses = await asyncio.gather(*(sign_in(client, g) for g in guesses))
        assert client.users.verifications <= 5
        assert statuses.count(200) <= 1


async def test_a_guesser_elsewhere_cannot_lock_the_owner_out(shop: Callable[..., Any]) -> None:
    async with shop("198.51.100.66") as attacker:
        for i in range(40):
            await sign_in(attacker, f"guess-{i}")
        assert await sign_in(attacker, f"guess-{99}") == 429
    async with shop("192.0.2.10") as owner:
        assert await sign_in(owner, PASSWORD) == 200


async def test_forwarded_for_from_an_untrusted_peer_changes_nothing(shop: Callable[..., Any]) -> None:
    async with shop("127.0.0.1") as client:
        statuses = [await sign_in(client, f"guess-{i}", **{"X-Forwarded-For": f"198.18.0.{i}"}) for i in range(12)]
        assert statuses[:3] == [401, 401, 401] and 429 in statuses
        assert client.users.verifications <= 4


async def test_the_client_is_the_right_most_address_no_trusted_proxy_added(shop: Callable[..., Any]) -> None:
    async with shop("10.9.0.5") as via_proxy:  # a trusted proxy: its right-most untrusted entry is the client
        braked = [
            await sign_in(via_proxy, f"g{i}", **{"X-Forwarded-For": f"1.1.1.{i}, 198.51.100.9"}) for i in range(6)
        ]
        assert 429 in braked  # the rotating left-most entries are the client's own words: ignored
        other = await sign_in(via_proxy, PASSWORD, **{"X-Forwarded-For": "192.0.2.44, 10.9.0.7"})
        assert other == 200  # another client behind the same proxies is not braked

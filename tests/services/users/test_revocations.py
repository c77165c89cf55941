"""Tokens die with the password that signed them in (issue 13, item 9): the current password is needed to change
it, and a change of password, role or account state, or the user's deletion, raises the user's token floor, which
`GET /credentials/revocations` publishes to every token verifier."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import jwt
import pytest_asyncio
from shop_testing import service_headers

from ecommerce.chassis.security import JwksCache, TokenVerifier
from ecommerce.services.storefront.keys import KeyRing, generate_private_key, key_id
from ecommerce.services.users import SPEC
from ecommerce.services.users.service import NEVER

BASE = "/user-service/api"


@pytest_asyncio.fixture(scope="module")
async def client(database_url: str, make_client: Callable[..., Any]) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(SPEC, database_url=database_url, seed_demo_data=True, bcrypt_rounds=4) as client:
        private = generate_private_key()
        ring = KeyRing(private_key=private, kid=key_id(private.public_key()), public_keys={})
        ring.public_keys[ring.kid] = private.public_key()
        client.app.state.token_verifier = TokenVerifier(JwksCache(document=ring.jwks()))  # type: ignore[attr-defined]
        client.keyring = ring  # type: ignore[attr-defined]
        client.headers.pop("Authorization", None)  # no user unless a test signs one: proxy-client calls
        client.headers.update(service_headers("proxy-client", "user-service"))
        yield client


def bearer(client: httpx.AsyncClient, role: str, user_id: int = 1) -> dict[str, str]:
    ring: KeyRing = client.keyring  # type: ignore[attr-defined]
    now = int(time.time())
    claims = {"sub": "someone", "userId": user_id, "roles": [role], "iat": now, "exp": now + 60}
    claims |= {"iss": "proxy-client", "aud": "ecommerce", "jti": uuid.uuid4().hex}
    token = jwt.encode(claims, ring.private_key, algorithm="RS256", headers={"kid": ring.kid})
    return {"Authorization": f"Bearer {token}"}


async def new_user(client: httpx.AsyncClient) -> dict[str, Any]:
    name = f"rev{uuid.uuid4().hex[:10]}"
    body = {"email": f"{name}@example.com", "credential": {"username": name, "password": "first-password"}}
    created = await client.post(f"{BASE}/users", json=body)
    assert created.status_code == 201, created.text
    return created.json()


async def floors(client: httpx.AsyncClient) -> dict[int, int]:
    answer = await client.get(f"{BASE}/credentials/revocations")
    assert answer.status_code == 200, answer.text
    return {r["userId"]: r["notBefore"] for r in answer.json()["revocations"]}


def change(user: dict[str, Any], **credential: Any) -> dict[str, Any]:
    return {"userId": user["userId"], "credential": {"username": user["credential"]["username"], **credential}}


async def test_a_password_change_needs_the_current_password(client: httpx.AsyncClient) -> None:
    user = await new_user(client)
    url = f"{BASE}/users/{user['userId']}"
    shopper = bearer(client, "ROLE_USER", user["userId"])  # the user themself
    missing = await client.put(url, json=change(user, password="second-password"), headers=shopper)
    assert missing.status_code == 400 and "currentPassword" in missing.json()["msg"]
    wrong = await client.put(
        url, json=change(user, password="second-password", currentPassword="nope"), headers=shopper
    )
    assert wrong.status_code == 403, wrong.text
    replace = await client.put(f"{BASE}/users", json=change(user, password="second-password"), headers=shopper)
    assert replace.status_code == 400
    assert user["userId"] not in await floors(client)
    verify = {"username": user["credential"]["username"], "password": "first-password"}
    assert (await client.post(f"{BASE}/credentials/verify", json=verify)).status_code == 200

    before = int(time.time())
    ok = await client.put(
        url, json=change(user, password="second-password", currentPassword="first-password"), headers=shopper
    )
    assert ok.status_code == 200, ok.text
    assert before <= (await floors(client))[user["userId"]] <= int(time.time())
    assert (await client.post(f"{BASE}/credentials/verify", json=verify)).status_code == 401


async def test_an_admin_sets_a_password_without_the_current_one(client: httpx.AsyncClient) -> None:
    user = await new_user(client)
    admin = bearer(client, "ROLE_ADMIN")
    answer = await client.put(
        f"{BASE}/users/{user['userId']}", json=change(user, password="reset-password"), headers=admin
    )
    assert answer.status_code == 200, answer.text
    assert user["userId"] in await floors(client)


async def test_a_role_change_voids_the_tokens_and_a_profile_edit_does_not(client: httpx.AsyncClient) -> None:
    user = await new_user(client)
    url = f"{BASE}/users/{user['userId']}"
    admin = bearer(client, "ROLE_ADMIN")  # a role is an administrator's to grant
    edited = await client.put(url, json=change(user) | {"firstName": "Renamed"}, headers=admin)
    assert edited.status_code == 200, edited.text
    assert user["userId"] not in await floors(client)
    promoted = await client.put(url, json=change(user, roleBasedAuthority="ROLE_ADMIN"), headers=admin)
    assert promoted.status_code == 200
    assert user["userId"] in await floors(client)


async def test_a_deleted_users_tokens_are_void_for_ever(client: httpx.AsyncClient) -> None:
    user = await new_user(client)
    admin = bearer(client, "ROLE_ADMIN")
    assert (await client.delete(f"{BASE}/users/{user['userId']}", headers=admin)).status_code == 200
    assert (await floors(client))[user["userId"]] == NEVER
    other = await new_user(client)
    credential_id = other["credential"]["credentialId"]
    assert (await client.delete(f"{BASE}/credentials/{credential_id}", headers=admin)).status_code == 200
    assert other["userId"] in await floors(client)

"""user-service wire contract, on SQLite and on the real PostgreSQL.

Every response of every test here passes through a hook that fails the request if it carries a password field or
anything that looks like a bcrypt hash.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import bcrypt
import httpx
import pytest
import pytest_asyncio
from shop_testing import service_headers
from sqlalchemy import insert, select

from ecommerce.services.users import SPEC
from ecommerce.services.users.models import Credential, User

BASE = "/user-service/api"
TIMESTAMP = re.compile(r"^\d{2}-\d{2}-\d{4}__\d{2}:\d{2}:\d{2}:\d{6}$")
HASH = re.compile(rb"\$2[abxy]?\$\d\d\$")
USER_FIELDS = ["userId", "firstName", "lastName", "imageUrl", "email", "phone"]
CREDENTIAL_FIELDS = [
    "credentialId",
    "username",
    "roleBasedAuthority",
    "isEnabled",
    "isAccountNonExpired",
    "isAccountNonLocked",
    "isCredentialsNonExpired",
]
DEMO = {"selimhorri": "selimhorri-demo", "amineladjimi": "amineladjimi-demo", "omarderouiche": "omarderouiche-demo"}


async def refuse_secrets(response: httpx.Response) -> None:
    body = await response.aread()
    if response.request.url.path.endswith("/openapi.json"):
        return  # request schemas name the password field; response schemas are checked below
    assert not HASH.search(body), f"a bcrypt hash leaked from {response.request.url}: {body[:300]!r}"
    assert b'"password"' not in body, f"a password field leaked from {response.request.url}"


@pytest_asyncio.fixture(scope="module")
async def client(database_url: str, make_client: Callable[..., Any]) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(SPEC, database_url=database_url, seed_demo_data=True, bcrypt_rounds=4) as client:
        client.event_hooks["response"].append(refuse_secrets)
        yield client


def assert_error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert list(body) == ["timestamp", "httpStatus", "msg", "path", "traceId"]
    assert TIMESTAMP.match(body["timestamp"])
    assert body["httpStatus"] == httpx.codes(status).name
    assert body["msg"]
    return body


_counter = iter(range(1, 1_000_000))


def new_user(**overrides: Any) -> dict[str, Any]:
    n = next(_counter)
    body: dict[str, Any] = {
        "firstName": "Ada",
        "lastName": "Lovelace",
        "imageUrl": "https://example.com/ada.png",
        "email": f"ada{n}@example.com",
        "phone": "+44 20 7946 0000",
        "credential": {"username": f"ada{n}", "password": "analytical-engine"},
    }
    return body | overrides


async def snapshot(client: httpx.AsyncClient) -> list[Any]:
    paths = ("users", "address", "credentials", "verificationTokens")
    return [(await client.get(f"{BASE}/{path}")).json() for path in paths]


# Only proxy-client checks passwords: with its service token and no user's.
def _sign_in() -> dict[str, str]:
    """proxy-client's service token alone, minted per call (a token minted at import expires during a long run)."""
    return {"Authorization": "", **service_headers("proxy-client", "user-service")}


async def verify(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    body = {"username": username, "password": password}
    return await client.post(f"{BASE}/credentials/verify", json=body, headers=_sign_in())


# --- shapes of the seeded data --------------------------------------------------------------------------


async def test_seeded_user_has_the_original_shape_without_password(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{BASE}/users/1")
    assert response.status_code == 200
    user = response.json()
    assert list(user) == [*USER_FIELDS, "credential"]
    assert user["firstName"] == "selim" and user["lastName"] == "horri"
    assert user["imageUrl"] == "https://bootdey.com/img/Content/avatar/avatar7.png"
    assert user["credential"] == {
        "credentialId": 1,
        "username": "selimhorri",
        "roleBasedAuthority": "ROLE_USER",
        "isEnabled": True,
        "isAccountNonExpired": True,
        "isAccountNonLocked": True,
        "isCredentialsNonExpired": True,
    }


async def test_seed_has_four_users_six_addresses_four_credentials_four_tokens(client: httpx.AsyncClient) -> None:
    users, addresses, credentials, tokens = await snapshot(client)
    seeded = {u["userId"]: u["credential"]["username"] for u in users["collection"] if u["userId"] <= 4}
    assert seeded == {1: "selimhorri", 2: "amineladjimi", 3: "omarderouiche", 4: "admin"}
    assert len([a for a in addresses["collection"] if a["addressId"] <= 6]) == 6
    assert {c["username"] for c in credentials["collection"]} >= {
        "selimhorri",
        "amineladjimi",
        "omarderouiche",
        "admin",
    }
    token = next(t for t in tokens["collection"] if t["verificationTokenId"] == 1)
    assert token["token"] == "" and token["expireDate"] == "31-12-2021"
    assert list(token["credential"]) == CREDENTIAL_FIELDS


async def test_address_credential_and_token_shapes(client: httpx.AsyncClient) -> None:
    address = (await client.get(f"{BASE}/address/6")).json()
    assert address == {
        "addressId": 6,
        "fullAddress": "kram",
        "postalCode": "2015",
        "city": "kram",
        "user": address["user"],
    }
    assert list(address["user"]) == USER_FIELDS and address["user"]["userId"] == 1
    credential = (await client.get(f"{BASE}/credentials/username/admin")).json()
    assert list(credential) == [*CREDENTIAL_FIELDS, "user"]
    assert credential["roleBasedAuthority"] == "ROLE_ADMIN"
    assert list(credential["user"]) == USER_FIELDS and credential["user"]["userId"] == 4
    assert (await client.get(f"{BASE}/users/username/amineladjimi")).json()["userId"] == 2


async def test_batch_lookup_by_ids(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{BASE}/users", params={"ids": "3,1,999"})
    assert response.status_code == 200
    assert [u["userId"] for u in response.json()["collection"]] == [1, 3]
    for bad in ("", "a,b", "0", "-1", "1,,x", ",".join(["1"] * 1001), "2147483648"):
        assert_error(await client.get(f"{BASE}/users", params={"ids": bad}), 400)


# --- sign-in checks -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("username", "password"), [*DEMO.items(), ("admin", "admin-demo")])
async def test_demo_passwords_verify(client: httpx.AsyncClient, username: str, password: str) -> None:
    response = await verify(client, username, password)
    assert response.status_code == 200, response.text
    identity = response.json()
    assert list(identity) == ["userId", "username", "roleBasedAuthority"]
    assert identity["username"] == username
    assert identity["roleBasedAuthority"] == ("ROLE_ADMIN" if username == "admin" else "ROLE_USER")


async def test_wrong_password_and_unknown_user_are_the_same_401(client: httpx.AsyncClient) -> None:
    wrong = assert_error(await verify(client, "admin", "not-the-password"), 401)
    unknown = assert_error(await verify(client, "nobody-here", "not-the-password"), 401)
    assert wrong["msg"] == unknown["msg"] == "Bad credentials"
    assert_error(await verify(client, "admin", "x" * 100), 401)


async def test_unknown_user_costs_a_bcrypt_check_too(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[bytes] = []
    real = bcrypt.checkpw

    def counting(password: bytes, hashed: bytes) -> bool:
        calls.append(hashed)
        return real(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", counting)
    assert_error(await verify(client, "nobody-at-all", "whatever-password"), 401)
    assert_error(await verify(client, "omarderouiche", "whatever-password"), 401)
    assert len(calls) == 2
    assert all(h.startswith(b"$2") for h in calls)


async def test_verify_needs_both_fields(client: httpx.AsyncClient) -> None:
    for body in ({}, {"username": "admin"}, {"password": "admin-demo"}, {"username": "", "password": "x"}, []):
        assert_error(await client.post(f"{BASE}/credentials/verify", json=body, headers=_sign_in()), 400)
    malformed = await client.post(f"{BASE}/credentials/verify", content=b"{nope", headers=_json() | _sign_in())
    assert_error(malformed, 400)


async def test_original_2a_04_hashes_still_verify(client: httpx.AsyncClient) -> None:
    legacy = bcrypt.hashpw(b"legacy-secret", bcrypt.gensalt(rounds=4, prefix=b"2a")).decode()
    assert legacy.startswith("$2a$04$")
    database = client.app.state.database  # type: ignore[attr-defined]
    async with database.sessionmaker() as session, session.begin():
        user_id = (await session.execute(insert(User).values(first_name="legacy").returning(User.user_id))).scalar_one()
        await session.execute(insert(Credential).values(user_id=user_id, username="legacyuser", password=legacy))
    assert (await verify(client, "legacyuser", "legacy-secret")).json()["userId"] == user_id
    assert_error(await verify(client, "legacyuser", "legacy-secreT"), 401)
    async with database.sessionmaker() as session:
        stored = (await session.execute(select(Credential.password).where(Credential.user_id == user_id))).scalar_one()
    assert stored == legacy  # same cost as the setting: left alone
    app = client.app  # type: ignore[attr-defined]
    settings = app.state.settings
    app.state.settings = settings.model_copy(update={"bcrypt_rounds": 5})
    try:
        assert (await verify(client, "legacyuser", "legacy-secret")).status_code == 200
    finally:
        app.state.settings = settings
    async with database.sessionmaker() as session:
        stored = (await session.execute(select(Credential.password).where(Credential.user_id == user_id))).scalar_one()
    assert stored.startswith("$2b$05$")  # a sign-in upgrades a hash cheaper than the setting
    assert (await verify(client, "legacyuser", "legacy-secret")).status_code == 200


async def test_disabled_or_locked_accounts_cannot_sign_in(client: httpx.AsyncClient) -> None:
    body = new_user()
    body["credential"] |= {"isAccountNonLocked": False}
    user = (await client.post(f"{BASE}/users", json=body)).json()
    assert user["credential"]["isAccountNonLocked"] is False
    assert_error(await verify(client, user["credential"]["username"], "analytical-engine"), 401)


# --- users ----------------------------------------------------------------------------------------------


async def test_create_user_with_credential_links_both_ways(client: httpx.AsyncClient) -> None:
    body = new_user()
    response = await client.post(f"{BASE}/users", json=body)
    assert response.status_code == 201, response.text
    user = response.json()
    assert user["email"] == body["email"] and user["credential"]["username"] == body["credential"]["username"]
    assert user["credential"]["roleBasedAuthority"] == "ROLE_USER"
    credential = (await client.get(f"{BASE}/credentials/{user['credential']['credentialId']}")).json()
    assert credential["user"]["userId"] == user["userId"]
    by_name = await client.get(f"{BASE}/users/username/{body['credential']['username']}")
    assert by_name.json() == user
    identity = (await verify(client, body["credential"]["username"], "analytical-engine")).json()
    assert identity["userId"] == user["userId"]
    database = client.app.state.database  # type: ignore[attr-defined]
    async with database.sessionmaker() as session:
        stored = (
            await session.execute(select(Credential.password).where(Credential.user_id == user["userId"]))
        ).scalar_one()
    assert stored.startswith("$2b$04$") and "analytical-engine" not in stored


async def test_create_admin_and_put_without_id_creates(client: httpx.AsyncClient) -> None:
    body = new_user()
    body["credential"]["roleBasedAuthority"] = "ROLE_ADMIN"
    response = await client.put(f"{BASE}/users", json=body)
    assert response.status_code == 201
    assert response.json()["credential"]["roleBasedAuthority"] == "ROLE_ADMIN"


async def test_put_by_id_applies_the_body(client: httpx.AsyncClient) -> None:
    body = new_user()
    user = (await client.post(f"{BASE}/users", json=body)).json()
    username = body["credential"]["username"]
    change = new_user(firstName="Augusta", email=f"augusta{user['userId']}@example.com")
    change["credential"] = {"username": username, "roleBasedAuthority": "ROLE_USER", "isEnabled": True}
    response = await client.put(f"{BASE}/users/{user['userId']}", json=change)
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["firstName"] == "Augusta" and updated["email"] == change["email"]
    assert (await client.get(f"{BASE}/users/{user['userId']}")).json() == updated
    # no password in the body: the old one still works
    assert (await verify(client, username, "analytical-engine")).status_code == 200
    change["credential"] |= {"password": "difference-engine", "currentPassword": "analytical-engine"}
    full_replace = await client.put(f"{BASE}/users", json=change | {"userId": user["userId"]})
    assert full_replace.status_code == 200
    assert (await verify(client, username, "difference-engine")).status_code == 200
    assert_error(await verify(client, username, "analytical-engine"), 401)


async def test_username_and_email_are_unique(client: httpx.AsyncClient) -> None:
    before = await snapshot(client)
    duplicate_name = new_user()
    duplicate_name["credential"]["username"] = "selimhorri"
    assert_error(await client.post(f"{BASE}/users", json=duplicate_name), 409)
    duplicate_case = new_user()
    duplicate_case["credential"]["username"] = "SelimHorri"
    assert_error(await client.post(f"{BASE}/users", json=duplicate_case), 409)
    assert_error(await client.post(f"{BASE}/users", json=new_user(email="admin@example.com")), 409)
    assert_error(await client.post(f"{BASE}/users", json=new_user(email="Admin@Example.com")), 409)
    assert await snapshot(client) == before
    other = (await client.post(f"{BASE}/users", json=new_user())).json()
    before = await snapshot(client)
    clash = new_user(email="selimhorri@example.com")
    clash["credential"]["username"] = other["credential"]["username"]
    assert_error(await client.put(f"{BASE}/users/{other['userId']}", json=clash), 409)
    assert await snapshot(client) == before


@pytest.mark.parametrize("change", [{"credential": None}, {"credential": {"username": "nopassword"}}])
async def test_new_users_need_a_credential_with_password(client: httpx.AsyncClient, change: dict[str, Any]) -> None:
    before = await snapshot(client)
    assert_error(await client.post(f"{BASE}/users", json=new_user() | change), 400)
    assert await snapshot(client) == before


@pytest.mark.parametrize(
    "change",
    [
        {"credential": {"username": "ab", "password": "long-enough"}},
        {"credential": {"username": "has space", "password": "long-enough"}},
        {"credential": {"username": "-dash-first", "password": "long-enough"}},
        {"credential": {"username": "x" * 65, "password": "long-enough"}},
        {"credential": {"username": "shortpass", "password": "short"}},
        {"credential": {"username": "longpass", "password": "é" * 37}},
        {"credential": {"username": "badrole", "password": "long-enough", "roleBasedAuthority": "ROLE_ROOT"}},
        {"credential": {"username": "badrole2", "password": "long-enough", "roleBasedAuthority": "ADMIN"}},
        {"credential": {"username": "badflag", "password": "long-enough", "isEnabled": "maybe"}},
        {"email": "not-an-email"},
        {"email": "two@@example.com"},
        {"email": "no-domain@"},
        {"email": "dots..@example.com"},
        {"email": 42},
        {"phone": "call me"},
        {"firstName": "x" * 256},
        {"userId": 0},
        {"userId": "one"},
    ],
)
async def test_bad_user_bodies_are_400_and_change_nothing(client: httpx.AsyncClient, change: dict[str, Any]) -> None:
    before = await snapshot(client)
    body = new_user() | change
    assert_error(await client.post(f"{BASE}/users", json=body), 400)
    assert_error(await client.put(f"{BASE}/users/1", json=body), 400)
    assert await snapshot(client) == before


async def test_malformed_or_wrong_json_is_400(client: httpx.AsyncClient) -> None:
    before = await snapshot(client)
    for path in ("users", "address", "credentials", "verificationTokens"):
        assert_error(await client.post(f"{BASE}/{path}", content=b'{"firstName": ', headers=_json()), 400)
        assert_error(await client.post(f"{BASE}/{path}", json=[1, 2]), 400)
        assert_error(await client.post(f"{BASE}/{path}", json="text"), 400)
    assert await snapshot(client) == before


@pytest.mark.parametrize("path", ["users", "address", "credentials", "verificationTokens"])
async def test_missing_ids_are_404_and_bad_ids_400(client: httpx.AsyncClient, path: str) -> None:
    assert_error(await client.get(f"{BASE}/{path}/99999"), 404)
    assert_error(await client.delete(f"{BASE}/{path}/99999"), 404)
    for bad in ("abc", "0", "-3", "1.5", "99999999999"):
        assert_error(await client.get(f"{BASE}/{path}/{bad}"), 400)
        assert_error(await client.delete(f"{BASE}/{path}/{bad}"), 400)


async def test_put_on_missing_ids_is_404(client: httpx.AsyncClient) -> None:
    before = await snapshot(client)
    assert_error(await client.put(f"{BASE}/users/99999", json=new_user()), 404)
    assert_error(await client.put(f"{BASE}/users", json=new_user(userId=99999)), 404)
    address = {"fullAddress": "somewhere", "user": {"userId": 1}}
    assert_error(await client.put(f"{BASE}/address/99999", json=address), 404)
    credential = {"username": "ghost", "password": "ghost-password", "user": {"userId": 1}}
    assert_error(await client.put(f"{BASE}/credentials/99999", json=credential), 404)
    token = {"token": "t", "expireDate": "31-12-2030", "credential": {"credentialId": 1}}
    assert_error(await client.put(f"{BASE}/verificationTokens/99999", json=token), 404)
    assert await snapshot(client) == before


async def test_unknown_username_is_404(client: httpx.AsyncClient) -> None:
    assert_error(await client.get(f"{BASE}/users/username/nobody"), 404)
    assert_error(await client.get(f"{BASE}/credentials/username/nobody"), 404)


async def test_delete_user_removes_its_credential_tokens_and_addresses(client: httpx.AsyncClient) -> None:
    user = (await client.post(f"{BASE}/users", json=new_user())).json()
    credential_id = user["credential"]["credentialId"]
    address = await client.post(
        f"{BASE}/address", json={"fullAddress": "1 Main St", "user": {"userId": user["userId"]}}
    )
    token = await client.post(
        f"{BASE}/verificationTokens",
        json={"token": "abc", "expireDate": "01-02-2031", "credential": {"credentialId": credential_id}},
    )
    assert address.status_code == token.status_code == 201
    deleted = await client.delete(f"{BASE}/users/{user['userId']}")
    assert deleted.status_code == 200 and deleted.json() is True
    assert_error(await client.get(f"{BASE}/users/{user['userId']}"), 404)
    assert_error(await client.get(f"{BASE}/credentials/{credential_id}"), 404)
    assert_error(await client.get(f"{BASE}/address/{address.json()['addressId']}"), 404)
    assert_error(await client.get(f"{BASE}/verificationTokens/{token.json()['verificationTokenId']}"), 404)
    assert_error(await client.delete(f"{BASE}/users/{user['userId']}"), 404)


# --- addresses ------------------------------------------------------------------------------------------


async def test_address_crud(client: httpx.AsyncClient) -> None:
    body = {"fullAddress": "10 Downing St", "postalCode": "SW1A 2AA", "city": "London", "user": {"userId": 2}}
    created = await client.post(f"{BASE}/address", json=body)
    assert created.status_code == 201
    address = created.json()
    assert address["fullAddress"] == "10 Downing St" and address["user"]["userId"] == 2
    changed = await client.put(f"{BASE}/address/{address['addressId']}", json=body | {"city": "Westminster"})
    assert changed.status_code == 200 and changed.json()["city"] == "Westminster"
    replaced = await client.put(f"{BASE}/address", json=body | {"addressId": address["addressId"], "city": "X"})
    assert replaced.json()["city"] == "X"
    mine = (await client.get(f"{BASE}/address", params={"userId": 2})).json()["collection"]
    assert {a["user"]["userId"] for a in mine} == {2} and address["addressId"] in {a["addressId"] for a in mine}
    assert (await client.delete(f"{BASE}/address/{address['addressId']}")).json() is True
    assert_error(await client.get(f"{BASE}/address/{address['addressId']}"), 404)


@pytest.mark.parametrize(
    "body",
    [
        {"fullAddress": "x"},
        {"fullAddress": "x", "user": {}},
        {"fullAddress": "x", "user": {"userId": 99999}},
        {"fullAddress": "", "user": {"userId": 1}},
        {"fullAddress": "x" * 256, "user": {"userId": 1}},
        {"user": {"userId": 1}},
    ],
)
async def test_bad_addresses_are_400_and_change_nothing(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    before = await snapshot(client)
    assert_error(await client.post(f"{BASE}/address", json=body), 400)
    assert_error(await client.put(f"{BASE}/address/1", json=body), 400)
    assert await snapshot(client) == before


# --- credentials and tokens -----------------------------------------------------------------------------


async def test_credential_crud_for_a_user_without_one(client: httpx.AsyncClient) -> None:
    user = (await client.post(f"{BASE}/users", json=new_user())).json()
    assert (await client.delete(f"{BASE}/credentials/{user['credential']['credentialId']}")).json() is True
    bare = (await client.get(f"{BASE}/users/{user['userId']}")).json()
    assert bare["credential"] is None
    users = (await client.get(f"{BASE}/users")).json()["collection"]  # a user without credential breaks nothing
    assert user["userId"] in {u["userId"] for u in users}
    body = {"username": f"again{user['userId']}", "password": "second-password", "user": {"userId": user["userId"]}}
    created = await client.post(f"{BASE}/credentials", json=body)
    assert created.status_code == 201, created.text
    credential = created.json()
    assert credential["user"]["userId"] == user["userId"] and credential["isEnabled"] is True
    assert_error(await client.post(f"{BASE}/credentials", json=body | {"username": "third"}), 409)
    renamed = await client.put(
        f"{BASE}/credentials/{credential['credentialId']}",
        json={"username": f"renamed{user['userId']}", "roleBasedAuthority": "ROLE_ADMIN"},
    )
    assert renamed.status_code == 200
    assert renamed.json()["roleBasedAuthority"] == "ROLE_ADMIN"
    assert (await verify(client, f"renamed{user['userId']}", "second-password")).json()["roleBasedAuthority"] == (
        "ROLE_ADMIN"
    )
    moved = {"username": f"renamed{user['userId']}", "user": {"userId": 1}}
    assert_error(await client.put(f"{BASE}/credentials/{credential['credentialId']}", json=moved), 400)


@pytest.mark.parametrize(
    "body",
    [
        {"username": "orphan", "password": "long-enough"},
        {"username": "nouser", "password": "long-enough", "user": {"userId": 99999}},
        {"username": "nopass", "user": {"userId": 1}},
        {"username": "bad name", "password": "long-enough", "user": {"userId": 1}},
        {"username": "badrole", "password": "long-enough", "roleBasedAuthority": "root", "user": {"userId": 1}},
    ],
)
async def test_bad_credentials_are_4xx_and_change_nothing(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    before = await snapshot(client)
    assert_error(await client.post(f"{BASE}/credentials", json=body), 400)
    assert await snapshot(client) == before


async def test_credential_for_a_user_who_has_one_is_409(client: httpx.AsyncClient) -> None:
    before = await snapshot(client)
    body = {"username": "secondone", "password": "long-enough", "user": {"userId": 1}}
    assert_error(await client.post(f"{BASE}/credentials", json=body), 409)
    assert_error(await client.put(f"{BASE}/credentials/2", json={"username": "selimhorri"}), 409)
    assert await snapshot(client) == before


async def test_verification_token_crud(client: httpx.AsyncClient) -> None:
    body = {"token": "t-123", "expireDate": "15-06-2031", "credential": {"credentialId": 3}}
    created = await client.post(f"{BASE}/verificationTokens", json=body)
    assert created.status_code == 201
    token = created.json()
    assert token["token"] == "t-123" and token["expireDate"] == "15-06-2031"
    assert token["credential"]["credentialId"] == 3 and list(token["credential"]) == CREDENTIAL_FIELDS
    token_id = token["verificationTokenId"]
    changed = await client.put(f"{BASE}/verificationTokens/{token_id}", json=body | {"expireDate": "2032-01-02"})
    assert changed.json()["expireDate"] == "02-01-2032"
    assert (await client.delete(f"{BASE}/verificationTokens/{token_id}")).json() is True
    before = await snapshot(client)
    for bad in (
        body | {"expireDate": "31-02-2031"},
        body | {"expireDate": "tomorrow"},
        body | {"credential": {"credentialId": 99999}},
        {"token": "x", "expireDate": "01-01-2030"},
    ):
        assert_error(await client.post(f"{BASE}/verificationTokens", json=bad), 400)
    assert await snapshot(client) == before


async def test_put_without_an_id_creates_and_with_one_updates(client: httpx.AsyncClient) -> None:
    address = {"fullAddress": "1 Main St", "postalCode": "1000", "city": "Brussels", "user": {"userId": 3}}
    created = await client.put(f"{BASE}/address", json=address)
    assert created.status_code == 201, created.text
    address_id = created.json()["addressId"]
    updated = await client.put(f"{BASE}/address", json=address | {"addressId": address_id, "city": "Ghent"})
    assert updated.status_code == 200 and updated.json()["addressId"] == address_id
    assert (await client.get(f"{BASE}/address/{address_id}")).json()["city"] == "Ghent"

    token = {"token": "t-put", "expireDate": "15-06-2031", "credential": {"credentialId": 3}}
    created = await client.put(f"{BASE}/verificationTokens", json=token)
    assert created.status_code == 201, created.text
    token_id = created.json()["verificationTokenId"]
    updated = await client.put(
        f"{BASE}/verificationTokens", json=token | {"verificationTokenId": token_id, "token": "u"}
    )
    assert updated.status_code == 200 and updated.json()["token"] == "u"

    user = (await client.post(f"{BASE}/users", json=new_user())).json()
    assert (await client.delete(f"{BASE}/credentials/{user['credential']['credentialId']}")).json() is True
    credential = {"username": f"put{user['userId']}", "password": "long-enough", "user": {"userId": user["userId"]}}
    created = await client.put(f"{BASE}/credentials", json=credential)
    assert created.status_code == 201, created.text
    credential_id = created.json()["credentialId"]
    renamed = {"credentialId": credential_id, "username": f"putagain{user['userId']}"}
    updated = await client.put(f"{BASE}/credentials", json=renamed)
    assert updated.status_code == 200 and updated.json()["username"] == f"putagain{user['userId']}"


async def test_health_and_openapi(client: httpx.AsyncClient) -> None:
    health = await client.get("/user-service/actuator/health")
    assert health.status_code == 200 and health.json()["status"] == "UP"
    openapi = (await client.get("/user-service/openapi.json")).json()
    schemas = openapi["components"]["schemas"]
    for name in ("UserOut", "CredentialOut", "CredentialRef", "VerificationTokenOut", "VerifiedIdentity"):
        assert "password" not in schemas[name]["properties"], name


def _json() -> dict[str, str]:
    return {"Content-Type": "application/json"}

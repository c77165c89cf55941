"""favourite-service contract, on SQLite and on the real PostgreSQL, with user-service and product-service running
as real processes (`ecommerce run` on free ports), and with peers down.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
import shop_testing
from prometheus_client import REGISTRY
from shop_testing import RunningService, admin_headers, prometheus_headers
from sqlalchemy import insert

from ecommerce.services.favourites import SPEC
from ecommerce.services.favourites.models import Favourite

BASE = "/favourite-service/api"
TIMESTAMP = re.compile(r"^\d{2}-\d{2}-\d{4}__\d{2}:\d{2}:\d{2}:\d{6}$")
USER_FIELDS = ["userId", "firstName", "lastName", "imageUrl", "email", "phone"]
PRODUCT_FIELDS = ["productId", "productTitle", "imageUrl", "sku", "priceUnit", "quantity"]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def start_service() -> Callable[..., RunningService]:
    return shop_testing.start_service


def dead_url() -> str:
    """An address where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def peers(
    tmp_path_factory: pytest.TempPathFactory, start_service: Callable[..., RunningService]
) -> Iterator[dict[str, RunningService]]:
    """user-service and product-service as real processes with their demo data, on free ports."""
    data_dir = tmp_path_factory.mktemp("peers")
    env = {"ECOMMERCE_PROFILE": "dev", "BCRYPT_ROUNDS": "4", "ECOMMERCE_ACCESS_LOG": "false"}
    started: list[RunningService] = []
    try:
        for name in ("user-service", "product-service"):
            started.append(start_service(name, env=env, data_dir=data_dir / name))
        yield {service.name: service for service in started}
    finally:
        for service in started:
            service.stop()


@pytest_asyncio.fixture(scope="module")
async def client(
    database_url: str, make_client: Callable[..., Any], peers: dict[str, RunningService]
) -> AsyncIterator[httpx.AsyncClient]:
    urls = {name: service.url for name, service in peers.items()}
    async with make_client(SPEC, database_url=database_url, seed_demo_data=True, peers=urls) as client:
        yield client


def assert_error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert list(body) == ["timestamp", "httpStatus", "msg", "path", "traceId"]
    assert TIMESTAMP.match(body["timestamp"])
    assert body["httpStatus"] == httpx.codes(status).name
    assert body["msg"]
    return body


async def rows(client: httpx.AsyncClient) -> list[tuple[int, int, str]]:
    listed = (await client.get(f"{BASE}/favourites")).json()["collection"]
    return sorted((f["userId"], f["productId"], f["likeDate"]) for f in listed)


def calls(peer: str) -> float:
    total = 0.0
    for outcome in ("SUCCESS", "CLIENT_ERROR", "SERVER_ERROR", "UNAVAILABLE"):
        labels = {"application": "favourite-service", "peer": peer, "method": "GET", "outcome": outcome}
        total += REGISTRY.get_sample_value("http_client_requests_seconds_count", labels) or 0.0
    return total


# --- reads ----------------------------------------------------------------------------------------------


async def test_seeded_favourites_embed_user_and_product(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{BASE}/favourites")
    assert response.status_code == 200
    listed = response.json()["collection"]
    seeded = {(f["userId"], f["productId"]): f for f in listed}
    assert {(1, 1), (1, 2), (2, 2)} <= set(seeded)
    favourite = seeded[(1, 1)]
    assert list(favourite) == ["userId", "productId", "likeDate", "user", "product"]
    assert TIMESTAMP.match(favourite["likeDate"])
    assert list(favourite["user"]) == USER_FIELDS
    assert favourite["user"]["userId"] == 1 and favourite["user"]["firstName"] == "selim"
    assert favourite["product"] == {
        "productId": 1,
        "productTitle": "asus",
        "imageUrl": "/app/images/catalog/laptop.svg",
        "sku": "dfqejklejrkn",
        "priceUnit": 749.0,
        "quantity": 50,
    }
    assert seeded[(2, 2)]["product"]["productTitle"] == "hp"


async def test_list_fetches_each_peer_once(client: httpx.AsyncClient) -> None:
    database = client.app.state.database  # type: ignore[attr-defined]
    async with database.sessionmaker() as session, session.begin():
        await session.execute(
            insert(Favourite), [{"user_id": 900 + i, "product_id": 1 + i % 4, "like_date": _now()} for i in range(30)]
        )
    users, products = calls("user-service"), calls("product-service")
    listed = (await client.get(f"{BASE}/favourites")).json()["collection"]
    assert calls("user-service") - users == 1
    assert calls("product-service") - products == 1
    unknown = [f for f in listed if f["userId"] >= 900]
    assert len(unknown) == 30
    assert all(f["user"] is None and f["product"] is not None for f in unknown)  # deleted user: null, not 500
    async with database.sessionmaker() as session, session.begin():
        await session.execute(Favourite.__table__.delete().where(Favourite.user_id >= 900))


async def test_one_users_favourites(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{BASE}/favourites", params={"userId": 1})
    assert response.status_code == 200
    mine = response.json()["collection"]
    assert {f["productId"] for f in mine} >= {1, 2}
    assert {f["userId"] for f in mine} == {1}
    empty = await client.get(f"{BASE}/favourites", params={"userId": 777})
    assert empty.json() == {"collection": []}
    for bad in ("0", "x", "-1", "99999999999"):
        assert_error(await client.get(f"{BASE}/favourites", params={"userId": bad}), 400)


async def test_get_by_key_path_find_and_any_like_date(client: httpx.AsyncClient) -> None:
    stored = next(f for f in (await client.get(f"{BASE}/favourites")).json()["collection"] if f["userId"] == 2)
    by_path = await client.get(f"{BASE}/favourites/2/2/{stored['likeDate']}")
    assert by_path.status_code == 200 and by_path.json() == stored
    other_date = await client.get(f"{BASE}/favourites/2/2/01-01-2020__00:00:00:000000")
    assert other_date.json() == stored  # the key is user and product; the like date is not part of it
    assert (await client.get(f"{BASE}/favourites/2/2")).json() == stored
    key = {"userId": 2, "productId": 2, "likeDate": stored["likeDate"]}
    found = await client.request("GET", f"{BASE}/favourites/find", json=key)
    assert found.status_code == 200 and found.json() == stored
    assert (await client.post(f"{BASE}/favourites/find", json={"userId": 2, "productId": 2})).json() == stored
    assert_error(await client.get(f"{BASE}/favourites/2/3/{stored['likeDate']}"), 404)
    assert_error(await client.request("GET", f"{BASE}/favourites/find", json={"userId": 3, "productId": 3}), 404)


@pytest.mark.parametrize(
    "path",
    [
        "favourites/x/1/01-01-2020__00:00:00:000000",
        "favourites/0/1/01-01-2020__00:00:00:000000",
        "favourites/1/-1/01-01-2020__00:00:00:000000",
        "favourites/1/1/2020-13-45",
        "favourites/1/1/yesterday",
        "favourites/1/1/32-01-2020__00:00:00:000000",
        "favourites/1/99999999999",
    ],
)
async def test_bad_keys_in_the_path_are_400(client: httpx.AsyncClient, path: str) -> None:
    before = await rows(client)
    assert_error(await client.get(f"{BASE}/{path}"), 400)
    assert_error(await client.delete(f"{BASE}/{path}"), 400)
    assert await rows(client) == before


# --- writes ---------------------------------------------------------------------------------------------


async def test_like_is_created_once_and_idempotent(client: httpx.AsyncClient) -> None:
    created = await client.post(f"{BASE}/favourites", json={"userId": 3, "productId": 4})
    assert created.status_code == 201, created.text
    favourite = created.json()
    assert TIMESTAMP.match(favourite["likeDate"])  # set by the server
    assert favourite["user"]["userId"] == 3 and favourite["user"]["lastName"] == "derouiche"
    assert favourite["product"]["productTitle"] == "GTA"
    again = await client.post(f"{BASE}/favourites", json={"userId": 3, "productId": 4, "likeDate": _date(2021)})
    assert again.status_code == 200
    assert again.json() == favourite  # same row, date unchanged
    assert len([r for r in await rows(client) if r[:2] == (3, 4)]) == 1
    assert (await client.delete(f"{BASE}/favourites/3/4/{favourite['likeDate']}")).json() is True
    assert_error(await client.delete(f"{BASE}/favourites/3/4/{favourite['likeDate']}"), 404)


async def test_concurrent_likes_make_one_row(client: httpx.AsyncClient) -> None:
    responses = await asyncio.gather(
        *(client.post(f"{BASE}/favourites", json={"userId": 2, "productId": 3}) for _ in range(6))
    )
    assert sorted(r.status_code for r in responses) == [200] * 5 + [201]
    assert len({r.json()["likeDate"] for r in responses}) == 1
    assert len([r for r in await rows(client) if r[:2] == (2, 3)]) == 1
    assert (await client.delete(f"{BASE}/favourites/2/3")).json() is True


async def test_put_upserts_and_takes_the_given_date(client: httpx.AsyncClient) -> None:
    created = await client.put(f"{BASE}/favourites", json={"userId": 3, "productId": 3, "likeDate": _date(2021)})
    assert created.status_code == 201
    assert created.json()["likeDate"] == _date(2021)
    moved = await client.put(f"{BASE}/favourites", json={"userId": 3, "productId": 3, "likeDate": _date(2022)})
    assert moved.status_code == 200 and moved.json()["likeDate"] == _date(2022)
    kept = await client.put(f"{BASE}/favourites", json={"userId": 3, "productId": 3})
    assert kept.status_code == 200 and kept.json()["likeDate"] == _date(2022)
    deleted = await client.request("DELETE", f"{BASE}/favourites/delete", json={"userId": 3, "productId": 3})
    assert deleted.status_code == 200 and deleted.json() is True
    assert_error(await client.request("DELETE", f"{BASE}/favourites/delete", json={"userId": 3, "productId": 3}), 404)
    assert_error(await client.delete(f"{BASE}/favourites/3/3"), 404)


async def test_unknown_user_or_product_is_400_and_changes_nothing(client: httpx.AsyncClient) -> None:
    before = await rows(client)
    user = assert_error(await client.post(f"{BASE}/favourites", json={"userId": 4242, "productId": 1}), 400)
    assert "User with id: 4242" in user["msg"]
    product = assert_error(await client.put(f"{BASE}/favourites", json={"userId": 1, "productId": 4242}), 400)
    assert "Product with id: 4242" in product["msg"]
    assert await rows(client) == before


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"userId": 1},
        {"productId": 1},
        {"userId": None, "productId": 1},
        {"userId": 0, "productId": 1},
        {"userId": "one", "productId": 1},
        {"userId": 1, "productId": 2_147_483_648},
        {"userId": 1, "productId": 1, "likeDate": "not a date"},
        {"userId": 1, "productId": 1, "likeDate": "31-02-2022__10:00:00:000000"},
        [],
        "text",
    ],
)
async def test_bad_bodies_are_400_and_change_nothing(client: httpx.AsyncClient, body: Any) -> None:
    before = await rows(client)
    assert_error(await client.post(f"{BASE}/favourites", json=body), 400)
    assert_error(await client.put(f"{BASE}/favourites", json=body), 400)
    assert_error(await client.request("GET", f"{BASE}/favourites/find", json=body), 400)
    assert_error(await client.request("DELETE", f"{BASE}/favourites/delete", json=body), 400)
    assert await rows(client) == before


async def test_malformed_json_is_400(client: httpx.AsyncClient) -> None:
    before = await rows(client)
    headers = {"Content-Type": "application/json"}
    assert_error(await client.post(f"{BASE}/favourites", content=b'{"userId": 1,', headers=headers), 400)
    assert_error(await client.request("DELETE", f"{BASE}/favourites/delete", content=b"{", headers=headers), 400)
    assert await rows(client) == before


# --- peers down -----------------------------------------------------------------------------------------


async def test_reads_degrade_and_writes_refuse_when_peers_are_down(
    database_url: str, make_client: Callable[..., Any], client: httpx.AsyncClient, peers: dict[str, RunningService]
) -> None:
    # A second app on the same database: user-service is up, product-service is down.
    urls = {"user-service": peers["user-service"].url, "product-service": dead_url()}
    async with make_client(SPEC, database_url=database_url, peers=urls, peer_retries=0) as degraded:
        for _ in range(3):  # also once the product-service circuit has opened
            response = await degraded.get(f"{BASE}/favourites")
            assert response.status_code == 200, response.text
            listed = response.json()["collection"]
            assert listed and all(f["product"] is None for f in listed)
            assert all(f["user"] is not None for f in listed if f["userId"] < 900)
        one = await degraded.get(f"{BASE}/favourites/1/1")
        assert one.status_code == 200 and one.json()["product"] is None and one.json()["user"]["userId"] == 1
        before = await rows(degraded)
        refused = assert_error(await degraded.post(f"{BASE}/favourites", json={"userId": 3, "productId": 1}), 503)
        assert "product-service" in refused["msg"]
        assert await rows(degraded) == before
    urls = {"user-service": dead_url(), "product-service": dead_url()}
    async with make_client(SPEC, database_url=database_url, peers=urls, peer_retries=0) as dark:
        listed = (await dark.get(f"{BASE}/favourites")).json()["collection"]
        assert listed and all(f["user"] is None and f["product"] is None for f in listed)
        assert_error(await dark.put(f"{BASE}/favourites", json={"userId": 1, "productId": 3}), 503)
        one = await dark.get(f"{BASE}/favourites/1/1")
        assert one.status_code == 200 and one.json()["user"] is None and one.json()["product"] is None


async def test_favourite_service_as_a_process_with_ecommerce_peers(
    peers: dict[str, RunningService], tmp_path: Path, start_service: Callable[..., RunningService]
) -> None:
    urls = {name: service.url for name, service in peers.items()}
    env = {"ECOMMERCE_PROFILE": "dev", "ECOMMERCE_PEERS": json.dumps(urls)}
    service = start_service("favourite-service", env=env, data_dir=tmp_path / "favourites")
    try:
        async with httpx.AsyncClient(base_url=service.url, timeout=10, headers=admin_headers()) as http:
            listed = (await http.get(f"{BASE}/favourites", params={"userId": 1})).json()["collection"]
            assert {f["productId"] for f in listed} == {1, 2}
            assert all(f["user"]["firstName"] == "selim" and f["product"] for f in listed)
            created = await http.post(f"{BASE}/favourites", json={"userId": 4, "productId": 3})
            assert created.status_code == 201 and created.json()["product"]["productTitle"] == "Armani"
            assert (await http.post(f"{BASE}/favourites", json={"userId": 4, "productId": 3})).status_code == 200
            metrics = (await http.get("/favourite-service/actuator/prometheus", headers=prometheus_headers())).text
            assert 'peer="user-service"' in metrics and 'peer="product-service"' in metrics
    finally:
        service.stop()
    # The same data with product-service gone: the list still answers, product null, a warning in the log.
    env["ECOMMERCE_PEERS"] = json.dumps(urls | {"product-service": dead_url()})
    service = start_service("favourite-service", env=env, data_dir=tmp_path / "favourites")
    try:
        async with httpx.AsyncClient(base_url=service.url, timeout=20, headers=admin_headers()) as http:
            response = await http.get(f"{BASE}/favourites", params={"userId": 4})
            assert response.status_code == 200
            assert [(f["productId"], f["product"]) for f in response.json()["collection"]] == [(3, None)]
            assert response.json()["collection"][0]["user"]["userId"] == 4
            refused = await http.post(f"{BASE}/favourites", json={"userId": 4, "productId": 1})
            assert refused.status_code == 503
    finally:
        service.stop()
    assert "embed_unavailable" in service.logs()


def _now() -> Any:
    from ecommerce.services.favourites.service import now

    return now()


def _date(year: int) -> str:
    return f"03-01-{year}__14:05:09:123456"

"""Edge security (the packaged policy) and rate limits, in memory and in Redis."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis.asyncio as redis
from conftest import GatewayFactory, Keys, Upstream, default_config, require
from prometheus_client import REGISTRY

from ecommerce.services.gateway.ratelimit import MemoryRateLimiter, RedisRateLimiter

REDIS_URL = "redis://127.0.0.1:6379/0"

ANONYMOUS, USER, ADMIN = "anonymous", "user", "admin"
# (method, path, who, expected status): the policy the shop promises at its edge.
CASES = [
    ("GET", "/product-service/api/products", ANONYMOUS, 200),
    ("GET", "/product-service/api/products/1", ANONYMOUS, 200),
    ("GET", "/product-service/api/categories", ANONYMOUS, 200),
    ("POST", "/product-service/api/products", ANONYMOUS, 401),
    ("POST", "/product-service/api/products", USER, 403),
    ("POST", "/product-service/api/products", ADMIN, 200),
    ("PUT", "/product-service/api/categories/2", USER, 403),
    ("DELETE", "/product-service/api/products/1", ADMIN, 200),
    ("GET", "/user-service/api/users", USER, 403),
    ("GET", "/user-service/api/users", ADMIN, 200),
    ("GET", "/user-service/api/credentials", ADMIN, 404),
    ("POST", "/user-service/api/credentials/verify", ANONYMOUS, 404),
    ("POST", "/user-service/api/credentials/verify", ADMIN, 404),
    ("GET", "/user-service/api/credentials/username/selimhorri", ADMIN, 404),
    ("GET", "/order-service/api/orders", ANONYMOUS, 401),
    ("GET", "/order-service/api/orders", USER, 403),
    ("POST", "/order-service/api/carts", USER, 403),
    ("GET", "/shipping-service/api/shippings", USER, 403),
    ("PUT", "/shipping-service/api/shippings", USER, 403),
    ("PUT", "/shipping-service/api/shippings", ADMIN, 200),
    ("GET", "/payment-service/api/payments", USER, 403),
    ("GET", "/favourite-service/api/favourites", USER, 403),
    ("GET", "/order-service/actuator/health", ANONYMOUS, 200),
    ("GET", "/order-service/actuator/health/readiness", ANONYMOUS, 200),
    ("GET", "/order-service/actuator/prometheus", ADMIN, 404),
    ("POST", "/product-service/actuator/refresh", ADMIN, 404),
    ("GET", "/app/actuator/env", ADMIN, 404),
    ("GET", "/app/", ANONYMOUS, 200),
    ("POST", "/app/api/authenticate", ANONYMOUS, 200),
    ("GET", "/user-service/api/%63redentials", ADMIN, 404),
    ("GET", "/user-service/api/credentials%2Fverify", ADMIN, 400),
]


@pytest.fixture
async def policy_client(gateway: GatewayFactory, upstreams: tuple[Upstream, Upstream]):  # type: ignore[no-untyped-def]
    async with gateway(default_config({"*": [upstreams[0].url]}), rate_limits_enabled=False) as client:
        yield client


async def test_edge_policy(policy_client, keys: Keys) -> None:  # type: ignore[no-untyped-def]
    headers = {ANONYMOUS: {}, USER: keys.auth("jane"), ADMIN: keys.auth("root", admin=True)}
    failures = []
    for method, path, who, expected in CASES:
        response = await policy_client.request(method, path, headers=headers[who])
        if response.status_code != expected:
            failures.append(f"{method} {path} as {who}: {response.status_code}, expected {expected}")
        elif expected in (400, 401, 403, 404):
            body = response.json()
            assert set(body) == {"timestamp", "httpStatus", "msg", "path", "traceId"}, body
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize(
    "target",
    [
        "/order-service/api/../../user-service/api/credentials",
        "/product-service/api/products/../../../user-service/api/credentials/verify",
        "/order-service//api/orders",
        "/order-service/api/%2e%2e/orders",
    ],
)
async def test_paths_that_could_dodge_the_policy_are_refused(policy_client, keys: Keys, target: str) -> None:  # type: ignore[no-untyped-def]
    url = policy_client.base_url
    reader, writer = await asyncio.open_connection(url.host, url.port)
    auth = keys.auth(admin=True)["Authorization"]
    writer.write(f"GET {target} HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    status_line = await reader.readline()
    writer.close()
    assert status_line.split()[1] == b"400", status_line


async def test_bad_tokens_are_401_with_a_challenge(policy_client, keys: Keys) -> None:  # type: ignore[no-untyped-def]
    expired = keys.token(ttl=-120)
    for value in ("Bearer nonsense", f"Bearer {expired}", "Basic dXNlcjpwYXNz"):
        response = await policy_client.get("/order-service/api/orders", headers={"Authorization": value})
        assert response.status_code == 401, value
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert response.json()["httpStatus"] == "UNAUTHORIZED"


async def test_unreachable_keys_answer_503(
    gateway: GatewayFactory, upstreams: tuple[Upstream, ...], keys: Keys
) -> None:
    config = default_config({"*": [upstreams[0].url]})
    async with gateway(config, jwt_jwks_url="http://127.0.0.1:9/jwks.json") as client:
        response = await client.get("/order-service/api/orders", headers=keys.auth())
        assert response.status_code == 503
        assert (await client.get("/product-service/api/products")).status_code == 200  # public still flows


def _limited(route: str) -> float:
    labels = {"application": "api-gateway", "route": route}
    return REGISTRY.get_sample_value("gateway_rate_limited_total", labels) or 0.0


async def _redis_available() -> bool:
    client = redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        return bool(await client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        await client.aclose()


@pytest.mark.parametrize("store", ["memory", "redis"])
async def test_rate_limit_per_client_and_route(
    gateway: GatewayFactory, upstreams: tuple[Upstream, Upstream], keys: Keys, store: str
) -> None:
    overrides = {}
    if store == "redis":
        require(await _redis_available(), f"Redis is not reachable at {REDIS_URL}")
        overrides["redis_url"] = REDIS_URL
    config = default_config({"*": [upstreams[0].url]}, defaults={"rate-limit": {"rate": 0.5, "burst": 3}})
    user = f"user-{uuid.uuid4().hex[:8]}"  # fresh buckets in Redis for every run
    before = _limited("order-service")
    async with gateway(config, **overrides) as client:
        auth = keys.auth(user, admin=True)  # the services behind /** are for administrators
        statuses = [(await client.get("/order-service/api/orders", headers=auth)).status_code for _ in range(5)]
        assert statuses == [200, 200, 200, 429, 429]
        refused = await client.get("/order-service/api/orders", headers=auth)
        assert refused.json()["httpStatus"] == "TOO_MANY_REQUESTS"
        assert 1 <= int(refused.headers["retry-after"]) <= 2
        # Other routes and other users have their own buckets.
        assert (await client.get("/payment-service/api/payments", headers=auth)).status_code == 200
        assert (
            await client.get("/order-service/api/orders", headers=keys.auth(user + "-b", admin=True))
        ).status_code == 200
    assert _limited("order-service") == before + 3


async def test_redis_buckets_are_shared_between_replicas() -> None:
    require(await _redis_available(), f"Redis is not reachable at {REDIS_URL}")
    key = f"test|{uuid.uuid4().hex}"
    first, second = RedisRateLimiter(REDIS_URL), RedisRateLimiter(REDIS_URL)
    try:
        assert await first.acquire(key, 1.0, 2) == 0
        assert await second.acquire(key, 1.0, 2) == 0
        assert 0 < await first.acquire(key, 1.0, 2) <= 1.0
        assert 0 < await second.acquire(key, 1.0, 2) <= 1.0
    finally:
        await first.close()
        await second.close()


async def test_redis_down_fails_open() -> None:
    limiter = RedisRateLimiter("redis://127.0.0.1:9/0", timeout=0.2)
    try:
        for _ in range(5):
            assert await limiter.acquire("k", 0.1, 1) == 0
    finally:
        await limiter.close()


async def test_memory_bucket_refills_and_sweeps() -> None:
    limiter = MemoryRateLimiter(max_keys=4)
    assert await limiter.acquire("a", 1000.0, 1) == 0
    assert await limiter.acquire("a", 1000.0, 1) > 0
    for index in range(10):
        await limiter.acquire(f"k{index}", 1000.0, 1)
    assert len(limiter._buckets) <= 4


async def test_public_reads_are_limited_per_address(
    gateway: GatewayFactory, upstreams: tuple[Upstream, Upstream]
) -> None:
    config = default_config({"*": [upstreams[0].url]}, defaults={"rate-limit": {"rate": 0.5, "burst": 2}})
    before = _limited("product-service")
    async with gateway(config) as client:
        statuses = [(await client.get("/product-service/api/products/1")).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        refused = await client.get("/product-service/api/products/1", headers={"X-Request-Id": "limited-1"})
        assert refused.status_code == 429
        assert refused.json()["httpStatus"] == "TOO_MANY_REQUESTS"
        assert set(refused.json()) == {"timestamp", "httpStatus", "msg", "path", "traceId"}
        assert 1 <= int(refused.headers["retry-after"]) <= 2
        assert refused.headers["x-request-id"] == "limited-1"
    assert _limited("product-service") == before + 2

"""The fault-injection switch: off by default, admin or faults token only, dev/qa only, the actuator exempt."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from shop_testing import operator_headers, prometheus_headers

from ecommerce.chassis.security import JwksCache, TokenVerifier
from ecommerce.services.products import SPEC

FAULTS = "/product-service/actuator/faults"
PRODUCT = "/product-service/api/products/1"


class Signer:
    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        jwk.update({"kid": "k1", "alg": "RS256", "use": "sig"})
        self.jwks = {"keys": [jwk]}

    def headers(self, *roles: str, ttl: int = 600, key: Any = None) -> dict[str, str]:
        now = int(time.time())
        claims = {"sub": "someone", "userId": 7, "roles": list(roles), "iat": now, "exp": now + ttl}
        token = jwt.encode(claims, key or self.key, algorithm="RS256", headers={"kid": "k1"})
        return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer()


@pytest.fixture
async def client(
    make_client: Callable[..., Any], tmp_path: Any, signer: Signer, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[httpx.AsyncClient]:
    url = f"sqlite+aiosqlite:///{tmp_path}/p.db"
    async with make_client(SPEC, database_url=url, profile="dev", headers={}) as client:
        client.app.state.token_verifier = TokenVerifier(JwksCache(document=signer.jwks))  # type: ignore[attr-defined]
        yield client


async def test_off_by_default_and_refused_without_credentials(client: httpx.AsyncClient, signer: Signer) -> None:
    assert (await client.get(PRODUCT)).status_code == 200
    for method in ("GET", "POST", "DELETE"):
        answer = await client.request(method, FAULTS, json={"errorRate": 1})
        assert answer.status_code == 401, answer.text
        assert answer.json()["msg"]
    # Management needs the operator: no user token, not even an administrator's, and not Prometheus.
    for headers in (signer.headers("ROLE_USER"), signer.headers("ROLE_ADMIN"), {"X-Faults-Token": "guess"}):
        assert (await client.post(FAULTS, json={"errorRate": 1}, headers=headers)).status_code == 401
    scraper = await client.post(FAULTS, json={"errorRate": 1}, headers=prometheus_headers())
    assert scraper.status_code == 403
    assert (await client.get(PRODUCT)).status_code == 200


async def test_operator_turns_errors_on_and_off(client: httpx.AsyncClient, signer: Signer) -> None:
    admin = operator_headers()
    assert (await client.get(FAULTS, headers=admin)).json() == {"latencyMs": 0, "errorRate": 0.0, "errorStatus": 500}
    on = await client.post(FAULTS, json={"errorRate": 1.0, "errorStatus": 503}, headers=admin)
    assert on.status_code == 200, on.text
    failed = await client.get(PRODUCT)
    assert failed.status_code == 503
    assert failed.json()["msg"] == "Injected fault"
    assert (await client.get("/product-service/actuator/health/readiness")).status_code == 200
    assert (await client.get("/actuator/health")).status_code == 200
    metrics = (await client.get("/product-service/actuator/prometheus", headers=prometheus_headers())).text
    assert 'fault_injection_active{application="product-service",kind="error"} 1.0' in metrics
    off = await client.delete(FAULTS, headers=admin)
    assert off.json()["errorRate"] == 0
    assert (await client.get(PRODUCT)).status_code == 200


async def test_latency(client: httpx.AsyncClient) -> None:
    token = operator_headers()
    assert (await client.post(FAULTS, json={"latencyMs": 300}, headers=token)).status_code == 200
    started = time.monotonic()
    assert (await client.get(PRODUCT)).status_code == 200
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    await client.get("/product-service/actuator/health")
    assert time.monotonic() - started < 0.3
    assert (await client.delete(FAULTS, headers=token)).status_code == 200


async def test_bad_settings_are_400(client: httpx.AsyncClient) -> None:
    token = operator_headers()
    for body in ({"errorRate": 2}, {"latencyMs": -1}, {"errorStatus": 404}):
        answer = await client.post(FAULTS, json=body, headers=token)
        assert answer.status_code == 400, answer.text


async def test_refused_in_prod(make_client: Callable[..., Any], tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    async with make_client(SPEC, database_url=f"sqlite+aiosqlite:///{tmp_path}/p.db", profile="prod") as client:
        answer = await client.post(FAULTS, json={"errorRate": 1}, headers=operator_headers())
        assert answer.status_code == 403
        assert (await client.get(PRODUCT)).status_code in (200, 404)

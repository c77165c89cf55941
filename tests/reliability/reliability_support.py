"""Pieces the reliability tests share: the business services as real processes, tokens, the error body."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import shop_testing

from ecommerce.services.storefront.keys import generate_private_key, private_pem

BUSINESS = (
    "user-service",
    "product-service",
    "favourite-service",
    "order-service",
    "shipping-service",
    "payment-service",
)
ERROR_KEYS = {"timestamp", "httpStatus", "msg", "path", "traceId"}
FAULTS_TOKEN = "reliability-faults-token"  # test-only value, never used outside the tests
ADMIN = ("admin", "admin-demo")  # the seeded development accounts (dev profile only)
USER1 = ("selimhorri", "selimhorri-demo")  # userId 1
USER2 = ("amineladjimi", "amineladjimi-demo")  # userId 2


def assert_error_body(response: httpx.Response | Any, *, status: int | None = None) -> None:
    """A 4xx/5xx answer carries the one error body."""
    body = response.json()
    assert isinstance(body, dict) and ERROR_KEYS <= set(body), f"not the error body: {body!r}"
    assert isinstance(body["msg"], str) and body["msg"], body
    if status is not None:
        assert response.status_code == status, (response.status_code, body)


@dataclass
class Shop:
    """Components started as real processes, wired to each other by URL (`ECOMMERCE_PEERS`)."""

    root: Path
    env: dict[str, str]
    ports: dict[str, int]
    services: dict[str, shop_testing.RunningService] = field(default_factory=dict)

    @property
    def urls(self) -> dict[str, str]:
        return {name: f"http://127.0.0.1:{port}" for name, port in self.ports.items()}

    def start(self, name: str, *, port: int | None = None, env: dict[str, str] | None = None) -> None:
        self.services[name] = shop_testing.start_service(
            name,
            port=port or self.ports[name],
            env={**self.env, **(env or {})},
            data_dir=self.root / name,
        )

    def stop(self, name: str) -> None:
        service = self.services.pop(name, None)
        if service is not None:
            service.stop()

    def stop_all(self) -> None:
        for name in reversed(list(self.services)):
            self.stop(name)

    def logs(self) -> str:
        return "\n".join(path.read_text(errors="replace") for path in self.root.glob("*/*.log"))

    def token(self, credentials: tuple[str, str]) -> str:
        answer = httpx.post(
            f"{self.urls['proxy-client']}/app/api/authenticate",
            json={"username": credentials[0], "password": credentials[1]},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        token: str = answer.json()["jwtToken"]
        return token


def new_shop(root: Path, names: tuple[str, ...], extra_env: dict[str, str] | None = None) -> Shop:
    """A shop on free ports (not started); the storefront's signing key in `root`."""
    root.mkdir(parents=True, exist_ok=True)
    ports = {name: shop_testing.free_port() for name in (*BUSINESS, "proxy-client", "api-gateway", *names)}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    key_file = root / "signing-key.pem"
    key_file.write_bytes(private_pem(generate_private_key()))
    env = {
        "ECOMMERCE_PROFILE": "dev",
        "ECOMMERCE_PEERS": json.dumps(urls),
        "ECOMMERCE_ACCESS_LOG": "false",
        "BCRYPT_ROUNDS": "4",
        "JWT_JWKS_URL": f"{urls['proxy-client']}/app/.well-known/jwks.json",
        "JWT_PRIVATE_KEY_FILE": str(key_file),
        "FAULTS_TOKEN": FAULTS_TOKEN,
        **(extra_env or {}),
    }
    return Shop(root=root, env=env, ports=ports)


@contextmanager
def running_shop(root: Path, names: tuple[str, ...], extra_env: dict[str, str] | None = None) -> Iterator[Shop]:
    """Start `names` in order; stop them all afterwards."""
    shop = new_shop(root, names, extra_env)
    try:
        for name in names:
            shop.start(name)
        yield shop
    finally:
        shop.stop_all()


def set_faults(base_url: str, actuator_base: str, **wanted: Any) -> None:
    """Turn a running service's fault switch on (`latencyMs=`, `errorRate=`) or off (nothing given)."""
    url = f"{base_url}{actuator_base}/faults"
    headers = shop_testing.operator_headers()  # the fault switch is the operator's
    answer = httpx.post(url, json=wanted, headers=headers) if wanted else httpx.delete(url, headers=headers)
    assert answer.status_code == 200, answer.text


def wait_until(predicate: Any, timeout: float, interval: float = 0.2, message: str = "condition") -> None:
    """Poll `predicate()` until true; AssertionError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"{message} not reached within {timeout} s")

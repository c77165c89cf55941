"""The shop for the storefront's tests: every business service and proxy-client as real processes on free ports."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import shop_testing
from storefront_support import PEERS, Shop

from ecommerce.services.storefront.keys import generate_private_key, private_pem


@pytest.fixture(scope="session")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    """Start the business services (those that exist) and proxy-client, wired to each other by URL."""
    helpers = shop_testing
    root = tmp_path_factory.mktemp("shop")
    ports = {name: helpers.free_port() for name in (*PEERS, "proxy-client")}
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
        "SIGNIN_FREE_FAILURES": "3",
    }
    services: dict[str, Any] = {}
    missing: dict[str, str] = {}
    try:
        for name in PEERS:
            try:
                services[name] = helpers.start_service(name, port=ports[name], env=env, data_dir=root / name)
            except (KeyError, ImportError, RuntimeError) as exc:
                missing[name] = f"{type(exc).__name__}: {exc}"
        services["proxy-client"] = helpers.start_service(
            "proxy-client", port=ports["proxy-client"], env=env, data_dir=root / "proxy-client"
        )
        yield Shop(url=urls["proxy-client"], services=services, missing=missing, config=helpers)
    finally:
        for service in reversed(list(services.values())):
            service.stop()

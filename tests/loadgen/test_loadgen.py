"""`ecommerce loadgen --headless` for real: a few seconds of shoppers against a small shop on free ports.

The shop is the six business services, proxy-client and api-gateway, wired by URL (no registry), each its own
process. The run must reach every part of the mix and exit 0; against a stopped gateway it must exit non-zero.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import pytest
import shop_testing
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ecommerce.cli.loadgen import locust_argv

pytestmark = pytest.mark.slow

BUSINESS = (
    "user-service",
    "product-service",
    "favourite-service",
    "order-service",
    "shipping-service",
    "payment-service",
)
EDGE = ("proxy-client", "api-gateway")
# What a few seconds of the mix must have touched (the request names shoppers.py reports under).
EXPECTED = {
    "browse catalog",
    "product",
    "search",
    "sign in",
    "favourite: like",
    "favourites",
    "checkout",
    "pay",
    "order history",
}

BROWSING = ("browse catalog", "browse categories", "product", "product (storefront)", "search")
THROUGH_GATEWAY = ("browse catalog", "browse categories", "product")


class SmallShop(NamedTuple):
    storefront: str
    gateway: str
    services: dict[str, shop_testing.RunningService]


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmallShop]:
    root = tmp_path_factory.mktemp("loadgen-shop")
    ports = {name: shop_testing.free_port() for name in (*BUSINESS, *EDGE)}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    key_file = root / "signing-key.pem"
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    key_file.write_bytes(pem)
    env = {
        "ECOMMERCE_PROFILE": "dev",  # the demo catalog and the demo accounts the shoppers sign in with
        "ECOMMERCE_PEERS": json.dumps(urls),
        "ECOMMERCE_ACCESS_LOG": "false",
        "BCRYPT_ROUNDS": "4",
        "JWT_JWKS_URL": f"{urls['proxy-client']}/app/.well-known/jwks.json",
        "JWT_PRIVATE_KEY_FILE": str(key_file),
    }

    def start(name: str) -> shop_testing.RunningService:
        return shop_testing.start_service(name, port=ports[name], env=env, data_dir=root / name)

    services: dict[str, shop_testing.RunningService] = {}
    try:
        with ThreadPoolExecutor(len(BUSINESS)) as pool:
            for wave in (BUSINESS, EDGE):
                for name, service in zip(wave, pool.map(start, wave), strict=True):
                    services[name] = service
        yield SmallShop(urls["proxy-client"], urls["api-gateway"], services)
    finally:
        with ThreadPoolExecutor(len(services) or 1) as pool:
            list(pool.map(lambda s: s.stop(), services.values()))


def _loadgen(shop: SmallShop, tmp_path: Path, *extra: str, timeout: float = 45) -> tuple[int, str, dict[str, int]]:
    """Run `ecommerce loadgen --headless`; its exit code, output and requests per name (failures as negatives)."""
    stats = tmp_path / "stats.json"
    stats.unlink(missing_ok=True)
    command = [sys.executable, "-m", "ecommerce", "loadgen", "--headless", "--storefront", shop.storefront]
    command += ["--gateway", shop.gateway, "--stats-json", str(stats), *extra]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOADGEN_", "LOCUST_"))}
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env, cwd=tmp_path)
    output = done.stdout + done.stderr
    (tmp_path / "loadgen.log").write_text(output)
    rows = json.loads(stats.read_text()) if stats.exists() else []
    counts = {row["name"]: row["num_requests"] for row in rows}
    failures = {row["name"]: row["num_failures"] for row in rows if row["num_failures"]}
    return done.returncode, output, counts | {f"failed {name}": -n for name, n in failures.items()}


def test_a_few_seconds_of_shoppers_reach_the_whole_mix(shop: SmallShop, tmp_path: Path) -> None:
    code, output, counts = _loadgen(shop, tmp_path, "--users", "4", "--rate", "40", "--duration", "8")
    assert code == 0, output[-4000:]
    assert not [name for name in counts if name.startswith("failed")], (counts, output[-4000:])
    assert EXPECTED <= {name for name, n in counts.items() if n > 0}, (counts, output[-3000:])
    assert counts.get("cart", 0) + counts.get("carts", 0) > 0, counts  # the cart API, or one's carts without it
    browsing = sum(counts.get(n, 0) for n in BROWSING)
    assert browsing > sum(counts.values()) / 2, counts  # browsing dominates
    assert "smoke gate passed" in output


def test_too_few_requests_fail_the_smoke_gate(shop: SmallShop, tmp_path: Path) -> None:
    code, output, _ = _loadgen(
        shop, tmp_path, "--users", "1", "--rate", "1", "--duration", "2", "--min-requests", "1000"
    )
    assert code == 1, output[-3000:]
    assert "at least 1000 requests were required" in output


def test_a_stopped_gateway_fails_the_smoke_gate(shop: SmallShop, tmp_path: Path) -> None:
    gateway = shop.services["api-gateway"]
    gateway.stop()
    code, output, counts = _loadgen(shop, tmp_path, "--users", "2", "--rate", "10", "--duration", "3")
    assert code == 1, output[-3000:]
    assert sum(counts.get(f"failed {name}", 0) for name in THROUGH_GATEWAY) < 0, counts
    assert "smoke gate FAILED" in output


def test_the_locust_command_line() -> None:
    argv = locust_argv(
        users=3,
        rate=2.5,
        duration=0,
        storefront="http://shop:8900/",
        gateway="http://gw:8080",
        accounts="",
        headless=False,
        min_requests=5,
        web_port=9000,
        stats_json=None,
    )
    assert argv[1:3] == ["-m", "locust"]
    assert "--run-time" not in argv and "--headless" not in argv  # runs until stopped, with the web UI
    assert argv[argv.index("--host") + 1] == "http://shop:8900"
    assert argv[argv.index("--accounts") + 1] == ""  # browsing only
    assert argv[argv.index("--web-host") + 1] == "127.0.0.1"

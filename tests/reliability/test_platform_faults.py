"""Faults of the platform under load, with real processes: an instance killed, the registry down, the config
server down at start."""

from __future__ import annotations

import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from reliability_support import Shop, new_shop, wait_until
from shop_testing import free_port, operator_headers, start_service

pytestmark = pytest.mark.slow

FAST_LEASES = {
    "EUREKA_INSTANCE_LEASE_RENEWAL_INTERVAL": "1",
    "EUREKA_INSTANCE_LEASE_EXPIRATION_DURATION": "3",
    "EUREKA_CLIENT_REGISTRY_FETCH_INTERVAL": "1",
    "EUREKA_LEASE_DURATION_SECONDS": "3",
    "EUREKA_EVICTION_INTERVAL_SECONDS": "1",
    "EUREKA_SELF_PRESERVATION": "false",
}


def registry_instances(registry_url: str, app: str) -> list[str]:
    """The UP instances of `app`, read as the operator (the registry answers proven callers only)."""
    headers = {"Accept": "application/json", **operator_headers()}
    answer = httpx.get(f"{registry_url}/eureka/apps/{app}", headers=headers, timeout=3)
    if answer.status_code == 404:
        return []
    assert answer.status_code == 200, (answer.status_code, answer.text)
    instances = answer.json()["application"]["instance"]
    instances = instances if isinstance(instances, list) else [instances]
    return sorted(str(i["instanceId"]) for i in instances if i.get("status") == "UP")


class Load:
    """Workers calling one URL every `interval` s until stopped (under the gateway's rate limit of 50/s per
    client); every status (or error name) counted."""

    def __init__(self, url: str, workers: int = 3, interval: float = 0.1) -> None:
        self.url = url
        self.interval = interval
        self.counts: Counter[str] = Counter()
        self.upstreams: Counter[str] = Counter()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(workers)]

    def _run(self) -> None:
        with httpx.Client(timeout=10) as client:
            while not self._stop.is_set():
                try:
                    answer = client.get(self.url)
                    outcome = str(answer.status_code)
                except httpx.HTTPError as exc:
                    outcome = type(exc).__name__
                with self._lock:
                    self.counts[outcome] += 1
                self._stop.wait(self.interval)

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(15)

    def snapshot(self) -> Counter[str]:
        with self._lock:
            return Counter(self.counts)


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    """Registry, two product-service instances registered in it, and the gateway routing by the registry."""
    root = tmp_path_factory.mktemp("platform")
    shop = new_shop(root, ("service-discovery",), FAST_LEASES)
    registry = f"{shop.urls['service-discovery']}/eureka/"
    shop.env.pop("ECOMMERCE_PEERS")  # instances come from the registry only
    shop.env["DISCOVERY_URL"] = registry
    try:
        shop.start("service-discovery", env={"DISCOVERY_URL": ""})
        shop.start("product-service")
        shop.services["product-service-2"] = start_service(
            "product-service", port=free_port(), env=shop.env, data_dir=root / "product-service-2"
        )
        shop.start("api-gateway")
        wait_until(
            lambda: len(registry_instances(shop.urls["service-discovery"], "PRODUCT-SERVICE")) == 2,
            20,
            message="two product-service instances registered",
        )
        yield shop
    finally:
        shop.stop_all()


def test_an_instance_killed_under_load(platform: Shop) -> None:
    """The gateway retries on the other instance (no error reaches the user); the registry drops the dead one."""
    url = f"{platform.urls['api-gateway']}/product-service/api/products/1"
    wait_until(lambda: httpx.get(url).status_code == 200, 15, message="the product through the gateway")
    victim = platform.services.pop("product-service-2")
    with Load(url) as load:
        time.sleep(1.5)
        victim.process.send_signal(signal.SIGKILL)
        victim.process.wait(10)
        time.sleep(3)
    counts = load.snapshot()
    assert counts["200"] > 40, counts
    assert set(counts) == {"200"}, counts
    registry = platform.urls["service-discovery"]
    wait_until(lambda: len(registry_instances(registry, "PRODUCT-SERVICE")) == 1, 20, message="the dead one evicted")


def test_the_registry_down_keeps_cached_routes_working(platform: Shop) -> None:
    url = f"{platform.urls['api-gateway']}/product-service/api/products/1"
    wait_until(lambda: httpx.get(url).status_code == 200, 15, message="the product through the gateway")
    platform.stop("service-discovery")
    with Load(url, workers=2) as load:
        time.sleep(4)  # several registry fetch intervals
    counts = load.snapshot()
    assert counts["200"] > 30 and set(counts) == {"200"}, counts
    assert httpx.get(f"{platform.urls['api-gateway']}/actuator/health/liveness").status_code == 200


def refresh(product_url: str) -> list[str]:
    """product-service's refresh, called as the operator (refresh is the operator's): the settings it changed."""
    answer = httpx.post(f"{product_url}/product-service/actuator/refresh", headers=operator_headers(), timeout=10)
    assert answer.status_code == 200, (answer.status_code, answer.text)
    changed: list[str] = answer.json()
    return changed


def test_the_config_server_down_at_start_then_back(tmp_path: Path) -> None:
    """Defaults first; the values arrive with the next refresh once the config server is back."""
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "application.yml").write_text("log_level: INFO\n")
    (repo / "product-service.yml").write_text("peer_timeout_seconds: 7.5\nfeatures:\n  banner: winter-sale\n")
    config_port = free_port()
    env = {
        "CONFIG_SERVER_URL": f"http://127.0.0.1:{config_port}",
        "ECOMMERCE_ACCESS_LOG": "false",
        "CONFIG_REPO_DIR": str(repo),
    }
    started = time.monotonic()
    product = start_service("product-service", env=env, data_dir=tmp_path / "product")
    config = None
    try:
        assert time.monotonic() - started < 30
        assert "config server unavailable" in product.logs()
        assert refresh(product.url) == []  # still down: nothing changes, nothing fails
        assert httpx.get(f"{product.url}/product-service/api/products/1").status_code == 200
        config = start_service(
            "cloud-config-server",
            port=config_port,
            env={**env, "CONFIG_SERVER_URL": ""},
            data_dir=tmp_path / "config",
            health_path="/actuator/health",
        )
        changed = refresh(product.url)
        assert "peer_timeout_seconds" in changed, changed
        assert refresh(product.url) == []  # applied once
    finally:
        if config is not None:
            config.stop()
        product.stop()

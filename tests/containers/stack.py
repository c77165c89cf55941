"""The shop as containers on a Docker engine, built from docker-compose.yml's own service definitions.

Each component gets its own container and address on the test's network (`front`); PostgreSQL sits on a second,
internal network (`data`) that only the six business services join, so a test can cut one of them off from the
database without cutting it off from its callers. Every container and network carries the run's label and is
removed at the end. Ports are published on 127.0.0.1 only, on ports the engine picks: the tests send traffic there
and nowhere else. Jaeger and Grafana are not started (no image can be made for them here): tracing is off.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import docker
import httpx
import yaml
from docker.models.containers import Container
from docker.models.networks import Network
from shop_testing import TEST_SECRETS

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
LABEL = "org.ecommerce.test-run"
DATABASE_SERVICES = (
    "user-service",
    "product-service",
    "favourite-service",
    "order-service",
    "shipping-service",
    "payment-service",
)
# Renew every second and expire after three, so a killed instance leaves the registry within seconds.
FAST = {
    "EUREKA_INSTANCE_LEASE_RENEWAL_INTERVAL": "1",
    "EUREKA_INSTANCE_LEASE_EXPIRATION_DURATION": "3",
    "EUREKA_CLIENT_REGISTRY_FETCH_INTERVAL": "1",
    "EUREKA_EVICTION_INTERVAL_SECONDS": "1",
    "BCRYPT_ROUNDS": "4",
    # The load comes from one client address; the per-client limit has its own tests.
    "GATEWAY_RATE_LIMITS_ENABLED": "false",
    # On SIGTERM, leave the registry and keep serving while the others' copies (fetched every second here) drop it.
    "ECOMMERCE_SHUTDOWN_DRAIN_SECONDS": "3",
}


def wait_for(check: Callable[[], Any], timeout: float, what: str, interval: float = 0.3) -> Any:
    """Poll `check` until it returns something true; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            result = check()
        except (httpx.HTTPError, docker.errors.APIError) as error:
            result, last = None, error
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what} (last error: {last!r})")


@dataclass
class Component:
    """One running container of the shop: its compose service, its address on 127.0.0.1 and readiness path."""

    service: str
    name: str
    container: Container
    health_port: int
    readiness_path: str
    host_port: int = 0

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.host_port}{path}"

    def ready(self) -> bool:
        answer = httpx.get(self.url(self.readiness_path), timeout=2)
        return answer.status_code == 200


@dataclass
class Stack:
    """The containers and networks of one test run."""

    client: docker.DockerClient
    image: str
    run_id: str = field(default_factory=lambda: secrets.token_hex(3))
    networks: dict[str, Network] = field(default_factory=dict)
    components: dict[str, Component] = field(default_factory=dict)
    postgres: Container | None = None

    @property
    def labels(self) -> dict[str, str]:
        return {LABEL: self.run_id}

    def create_networks(self) -> None:
        for name, internal in (("front", False), ("data", True)):
            self.networks[name] = self.client.networks.create(
                f"ect-{self.run_id}-{name}", driver="bridge", internal=internal, labels=self.labels
            )

    def start_postgres(self) -> Container:
        spec = COMPOSE["services"]["postgres"]
        init = next(v for v in spec["volumes"] if "docker-entrypoint-initdb.d" in v)
        source, target, _ = init.split(":")
        data = self.networks["data"].name
        self.postgres = self.client.containers.run(
            spec["image"],
            name=f"ect-{self.run_id}-postgres",
            detach=True,
            environment=spec["environment"],
            volumes={str((ROOT / source).resolve()): {"bind": target, "mode": "ro"}},
            network=data,
            networking_config={data: self.client.api.create_endpoint_config(aliases=["postgres"])},
            labels=self.labels,
        )
        wait_for(self.postgres_ready, 90, "PostgreSQL to accept connections", interval=0.5)
        return self.postgres

    def postgres_ready(self) -> bool:
        assert self.postgres is not None
        user = COMPOSE["services"]["postgres"]["environment"]["POSTGRES_USER"]
        code, _ = self.postgres.exec_run(["pg_isready", "-h", "127.0.0.1", "-U", user, "-d", "postgres", "-q"])
        # The init scripts run against a socket-only server first; ready on TCP means the real server is up.
        return code == 0

    def sql(self, database: str, query: str) -> str:
        """A query's unaligned output, run inside the PostgreSQL container as the superuser."""
        assert self.postgres is not None
        user = COMPOSE["services"]["postgres"]["environment"]["POSTGRES_USER"]
        code, out = self.postgres.exec_run(["psql", "-U", user, "-d", database, "-At", "-c", query])
        assert code == 0, out.decode(errors="replace")
        return out.decode().strip()

    def create_component(
        self, service: str, name: str | None = None, aliases: tuple[str, ...] = (), **extra_env: str
    ) -> Component:
        """A container for compose `service` (not started), named and addressed `name` (default: the service),
        also answering to `aliases` on the test's network (the service's DNS name during a surge)."""
        name = name or service
        spec = COMPOSE["services"][service]
        env = {**spec["environment"], **TEST_SECRETS, **FAST, "ECOMMERCE_INSTANCE_HOST": name, **extra_env}
        env.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)  # no Jaeger in this stack
        url = urlsplit(spec["healthcheck"]["test"][-1])
        health_port = url.port or 80
        front = self.networks["front"].name
        container = self.client.containers.create(
            spec["image"],
            command=spec["command"],
            name=f"ect-{self.run_id}-{name}",
            environment=env,
            user=spec.get("user"),
            read_only=spec.get("read_only", False),
            tmpfs=dict.fromkeys(spec.get("tmpfs", []), ""),
            ports={f"{health_port}/tcp": ("127.0.0.1", None)},
            network=front,
            networking_config={front: self.client.api.create_endpoint_config(aliases=[name, *aliases])},
            labels=self.labels,
        )
        if service in DATABASE_SERVICES:
            self.networks["data"].connect(container)
        component = Component(service, name, container, health_port, url.path)
        self.components[name] = component
        return component

    def start(self, component: Component) -> None:
        component.container.start()
        self.refresh_port(component)

    def refresh_port(self, component: Component) -> None:
        component.container.reload()
        bindings = component.container.ports[f"{component.health_port}/tcp"]
        component.host_port = int(bindings[0]["HostPort"])

    def start_all(self, names: Iterable[str], timeout: float = 180) -> None:
        """Start the given compose services together and wait until each one is ready."""
        started = [self.create_component(name) for name in names]
        for component in started:
            self.start(component)
        for component in started:
            wait_for(component.ready, timeout, f"{component.name} to be ready", interval=0.5)

    def logs(self, name: str, tail: int = 60) -> str:
        return self.components[name].container.logs(tail=tail).decode(errors="replace")

    def remove(self) -> None:
        """Every container and network of this run, whatever state they are in."""
        for container in self.client.containers.list(all=True, filters={"label": f"{LABEL}={self.run_id}"}):
            container.remove(force=True, v=True)
        for network in self.client.networks.list(filters={"label": f"{LABEL}={self.run_id}"}):
            network.remove()

"""The one table of the shop's components: every per-component fact that more than one part of the shop needs.

A component's name, the module holding its ServiceSpec, its port, its context path, its tier and its database are
read from here by the CLI, the local supervisor and its fork server, the peer client's default ports
(chassis/http.py), the gateway's route table, the monitoring catalog and each service's own ServiceSpec. Files that
cannot import Python (the Helm chart, the operations scripts, the config server's copy of the gateway's routes) are
generated from it by `ecommerce components render`, and a test fails when one of them is stale
(docs/architecture.md, "One table of components").

This module imports nothing of the shop at load time: the chassis and every service import it, so importing a
service or the chassis from here would be circular. `load_spec` imports the service only when asked.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Literal

Tier = Literal["infrastructure", "gateway", "client", "business"]


@dataclass(frozen=True)
class Database:
    """A business service's own PostgreSQL database and the role that owns it (the manual's names)."""

    name: str
    username: str


@dataclass(frozen=True)
class Component:
    """One component: where it listens and under which path, what it is, and the database it owns."""

    name: str
    module: str
    port: int
    context_path: str
    tier: Tier
    database: Database | None = None
    # The gateway's per-client token bucket for this component's route, when it differs from the default
    # (requests per second, burst); None keeps the gateway's default.
    edge_rate_limit: tuple[float, int] | None = None

    @property
    def actuator_base(self) -> str:
        """Where its actuator answers (`/product-service/actuator`, `/actuator` at the root)."""
        return f"{self.context_path}/actuator"

    @property
    def registry_name(self) -> str:
        """The upper-case name the service registry knows it by (PRODUCT-SERVICE)."""
        return self.name.upper()

    @property
    def routed(self) -> bool:
        """Whether the gateway routes a path prefix to it: every component served under its own context path."""
        return bool(self.context_path)


def _business(name: str, module: str, port: int, database: str, username: str) -> Component:
    return Component(name, module, port, f"/{name}", "business", Database(database, username))


# In the order `ecommerce up` and the manual's deploy-all start them: registry and config first, the edge last.
TABLE: tuple[Component, ...] = (
    Component("service-discovery", "ecommerce.services.discovery", 8761, "", "infrastructure"),
    Component("cloud-config-server", "ecommerce.services.config", 9296, "", "infrastructure"),
    _business("user-service", "ecommerce.services.users", 8700, "userdb", "userservice"),
    _business("product-service", "ecommerce.services.products", 8500, "productdb", "productservice"),
    _business("favourite-service", "ecommerce.services.favourites", 8800, "favouritedb", "favouriteservice"),
    _business("order-service", "ecommerce.services.orders", 8300, "orderdb", "orderservice"),
    _business("shipping-service", "ecommerce.services.shipping", 8600, "shippingdb", "shippingservice"),
    _business("payment-service", "ecommerce.services.payments", 8400, "paymentdb", "paymentservice"),
    Component("api-gateway", "ecommerce.services.gateway", 8080, "", "gateway"),
    Component("proxy-client", "ecommerce.services.storefront", 8900, "/app", "client", edge_rate_limit=(100.0, 200)),
)

BY_NAME: dict[str, Component] = {component.name: component for component in TABLE}
# name -> module whose SPEC describes it, in start order.
COMPONENTS: dict[str, str] = {component.name: component.module for component in TABLE}


def names() -> list[str]:
    """Component names in start order."""
    return list(COMPONENTS)


def get(name: str) -> Component:
    """The component called `name`; KeyError for an unknown name."""
    return BY_NAME[name]


def business() -> list[Component]:
    """The six business services, each with its own database, in start order."""
    return [component for component in TABLE if component.database is not None]


def ports() -> dict[str, int]:
    """Every component's well-known port by name."""
    return {component.name: component.port for component in TABLE}


def placement(name: str) -> dict[str, Any]:
    """The ServiceSpec fields the table decides (name, port, context path): `ServiceSpec(**placement(n), ...)`."""
    component = BY_NAME[name]
    return {"name": component.name, "port": component.port, "context_path": component.context_path}


def gateway_routes() -> list[dict[str, Any]]:
    """The gateway's routes in its YAML shape: one `/<context path>/**` prefix per component served under one."""
    routes: list[dict[str, Any]] = []
    for component in TABLE:
        if not component.routed:
            continue
        name = component.name
        route: dict[str, Any] = {"id": name, "path": f"{component.context_path}/**", "service": name}
        if component.edge_rate_limit is not None:
            rate, burst = component.edge_rate_limit
            route["rate-limit"] = {"rate": rate, "burst": burst}
        routes.append(route)
    return routes


def load_spec(name: str) -> Any:
    """The ServiceSpec of component `name` (importing its service); KeyError for an unknown name.

    Typed Any: naming the chassis' ServiceSpec here, even for the type checker, would close an import cycle (the
    chassis reads its default ports from this table; tests/test_layout.py refuses any cycle).
    """
    return importlib.import_module(COMPONENTS[name]).SPEC

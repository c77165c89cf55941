"""The facts every monitoring generator and test shares: components, scrape paths, runbooks, SLOs."""

from __future__ import annotations

from dataclasses import dataclass

# Where the runbooks live; every alert's runbook_url is RUNBOOK_BASE + "<AlertName>.md".
RUNBOOK_BASE = "https://github.com/ecommerce-microservices/ecommerce-microservices/blob/main/docs/runbooks/"


@dataclass(frozen=True)
class Component:
    """One scrape target of the shop: its name (= job = application label), port and actuator base."""

    name: str
    port: int
    actuator_base: str
    has_database: bool = False

    @property
    def metrics_path(self) -> str:
        """The Prometheus endpoint under the actuator base."""
        return f"{self.actuator_base}/prometheus"


COMPONENTS: tuple[Component, ...] = (
    Component("service-discovery", 8761, "/actuator"),
    Component("cloud-config-server", 9296, "/actuator"),
    Component("api-gateway", 8080, "/actuator"),
    Component("proxy-client", 8900, "/app/actuator"),
    Component("order-service", 8300, "/order-service/actuator", has_database=True),
    Component("payment-service", 8400, "/payment-service/actuator", has_database=True),
    Component("product-service", 8500, "/product-service/actuator", has_database=True),
    Component("shipping-service", 8600, "/shipping-service/actuator", has_database=True),
    Component("user-service", 8700, "/user-service/actuator", has_database=True),
    Component("favourite-service", 8800, "/favourite-service/actuator", has_database=True),
)

COMPONENT_NAMES: tuple[str, ...] = tuple(c.name for c in COMPONENTS)
# The scrape jobs of the ten components, as a PromQL regular expression.
JOBS_REGEX = "|".join(COMPONENT_NAMES)
# Containers watched through cAdvisor and kube-state-metrics: the ten plus the database.
CONTAINERS_REGEX = JOBS_REGEX + "|postgres"


def runbook_url(alertname: str) -> str:
    """The runbook of one alert."""
    return f"{RUNBOOK_BASE}{alertname}.md"


def component(name: str) -> Component:
    """Look a component up by name."""
    for item in COMPONENTS:
        if item.name == name:
            return item
    raise KeyError(name)

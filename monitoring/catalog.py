"""The facts every monitoring generator and test shares: components, scrape paths, runbooks, SLOs."""

from __future__ import annotations

from dataclasses import dataclass

from ecommerce import components

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


# From the shop's one component table (src/ecommerce/components.py); the dashboards' and rules' order: the
# infrastructure and the edge first, then the business services by port.
COMPONENTS: tuple[Component, ...] = tuple(
    Component(c.name, c.port, c.actuator_base, has_database=c.database is not None)
    for c in sorted(components.TABLE, key=lambda c: (c.tier == "business", c.port if c.tier == "business" else 0))
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

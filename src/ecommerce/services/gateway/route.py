"""A route of the table, compiled: its settings with the defaults applied, its retry budget and its metrics."""

from __future__ import annotations

from typing import Any

from ecommerce.services.gateway.config import GatewayConfig, RouteConfig
from ecommerce.services.gateway.metrics import RETRIES, UPSTREAM_REQUESTS, UPSTREAM_SECONDS
from ecommerce.services.gateway.upstreams import RetryBudget


class Route:
    """A compiled route: its config plus what the hot path needs ready-made."""

    __slots__ = ("config", "id", "path", "prefix", "service", "urls", "retries", "max_body_bytes", "read_timeout",
                 "connect_timeout", "rate", "burst", "budget", "_metrics")  # fmt: skip

    def __init__(self, config: RouteConfig, gateway_config: GatewayConfig) -> None:
        defaults = gateway_config.defaults
        self.config = config
        self.id = config.id
        self.path = config.path  # the metrics' `uri` label, like a route template
        self.prefix = config.prefix
        self.service = config.service
        self.urls = tuple(url.rstrip("/") for url in config.urls)
        self.retries = defaults.retries if config.retries is None else config.retries
        self.max_body_bytes = config.max_body_bytes or defaults.max_body_bytes
        self.connect_timeout = config.connect_timeout or defaults.connect_timeout
        self.read_timeout = config.timeout or defaults.timeout
        limit = defaults.rate_limit if config.rate_limit is None else config.rate_limit
        limit = None if limit is True or limit is False else limit
        self.rate = limit.rate if limit else None
        self.burst = limit.burst if limit else 0
        self.budget = RetryBudget(gateway_config.retry_budget.ratio, gateway_config.retry_budget.minimum)
        self._metrics: dict[tuple[str, str], Any] = {}

    def count(self, application: str, upstream: str, outcome: str, elapsed: float | None) -> None:
        """Count one upstream attempt (and its latency when it answered)."""
        key = (upstream, outcome)
        children = self._metrics.get(key)
        if children is None:
            children = self._metrics[key] = (
                UPSTREAM_REQUESTS.labels(application, self.id, upstream, outcome).inc,
                UPSTREAM_SECONDS.labels(application, self.id, upstream).observe,
            )
        children[0]()
        if elapsed is not None:
            children[1](elapsed)

    def may_retry(self, application: str, retries: int) -> bool:
        """True (and counted) when the route's retry count and budget allow one more attempt."""
        if retries >= self.retries or not self.budget.withdraw():
            return False
        RETRIES.labels(application, self.id).inc()
        return True

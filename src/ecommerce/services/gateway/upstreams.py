"""Where a route's requests go: instances from the registry (or configured URLs), a breaker per instance,
round robin skipping failing instances, and a retry budget per route."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ecommerce.chassis import DEFAULT_PORTS, CircuitBreaker, CircuitState, ServiceSettings
from ecommerce.services.gateway.metrics import CIRCUIT_STATE


class RetryBudget:
    """Retries may add at most `ratio` of the route's requests, plus a floor of `minimum` in reserve."""

    def __init__(self, ratio: float, minimum: int) -> None:
        self.ratio = ratio
        self.cap = float(max(minimum, 1))
        self.tokens = float(minimum)

    def deposit(self) -> None:
        """Count one request."""
        tokens = self.tokens + self.ratio
        self.tokens = tokens if tokens < self.cap else self.cap

    def withdraw(self) -> bool:
        """Spend one retry, if the budget allows."""
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class Upstreams:
    """Choose an instance for a service and keep a circuit breaker per instance URL."""

    def __init__(
        self,
        *,
        application: str,
        settings: ServiceSettings,
        registry_source: Any = None,
        breaker_factory: Callable[[Callable[[CircuitState], None]], CircuitBreaker] | None = None,
    ) -> None:
        self.application = application
        self.settings = settings
        self.registry_source = registry_source  # app.state: the registry client may appear after startup
        self._breaker_factory = breaker_factory or (lambda on_change: CircuitBreaker(on_change=on_change))
        self._breakers: dict[str, CircuitBreaker] = {}
        self._origins: set[str] = set()  # every instance sent to (it has a breaker), lower case
        self._open_until: dict[str, float] = {}
        self.unsettled: set[str] = set()  # instances whose breaker is not closed (`choose` may change them)
        self._round_robin: dict[tuple[str, ...], Iterator[int]] = {}

    def breaker(self, upstream: str) -> CircuitBreaker:
        """The breaker guarding one instance (`http://host:port`)."""
        breaker = self._breakers.get(upstream)
        if breaker is None:
            gauge = CIRCUIT_STATE.labels(self.application, upstream)
            gauge.set(0)

            def on_change(state: CircuitState, upstream: str = upstream) -> None:
                gauge.set(int(state))
                if state == CircuitState.CLOSED:
                    self.unsettled.discard(upstream)
                else:
                    self.unsettled.add(upstream)
                if state == CircuitState.OPEN:
                    self._open_until[upstream] = time.monotonic() + breaker_ref.open_seconds
                else:
                    self._open_until.pop(upstream, None)

            breaker_ref = breaker = self._breakers[upstream] = self._breaker_factory(on_change)
            self._origins.add(upstream.lower())
        return breaker

    def relative_location(self, location: bytes) -> bytes:
        """An upstream's `Location` made relative when it points at an instance the gateway sends to: an app builds
        absolute URLs from the Host header it was sent, and clients must never see an internal address."""
        parts = urlsplit(location.decode("latin-1"))
        if not parts.netloc or f"{parts.scheme or 'http'}://{parts.netloc}".lower() not in self._origins:
            return location
        return urlunsplit(("", "", parts.path or "/", parts.query, parts.fragment)).encode("latin-1")

    def states(self) -> dict[str, str]:
        """Every known instance and its breaker state, for the routes endpoint."""
        return {upstream: breaker.state.name for upstream, breaker in self._breakers.items()}

    def choose(self, service: str, urls: tuple[str, ...], tried: set[str]) -> str | None:
        """An instance that is not in `tried`, whose breaker lets a call through now; None when there is none."""
        excluded = tried
        if self._open_until:
            now = time.monotonic()
            excluded = {*tried, *(upstream for upstream, until in self._open_until.items() if until > now)}
        if not excluded and len(urls) == 1 and self._registry() is None:  # the common case, in one step
            only = urls[0]
            breaker = self._breakers.get(only)
            if breaker is not None and breaker.state == CircuitState.CLOSED:
                return only
        excluded = set(excluded)
        for _ in range(8):
            upstream = self._candidate(service, urls, excluded)
            if upstream is None:
                return None
            if self.breaker(upstream).allow():
                return upstream
            excluded.add(upstream)
        return None

    def choose_again(self, service: str, urls: tuple[str, ...], tried: set[str]) -> str | None:
        """The instance for a retry when `choose` found none: an untried one even if its circuit is open (a trial
        call: the instance just tried refused or broke the connection, so it is certainly not serving, while one
        whose circuit opened a moment ago may be back; seen in a rolling restart), else any instance at all (a
        service with one instance: try it again). Only on the failure path: a first attempt never comes here."""
        registry = self._registry()
        other = registry.choose(service, frozenset(tried)) if registry is not None and not urls else None
        if other is None:
            other = next((url for url in urls if url not in tried), None)
        if other:
            upstream = str(other).rstrip("/")
            self.breaker(upstream).trial()
            return upstream
        return self.choose(service, urls, set())

    def _candidate(self, service: str, urls: tuple[str, ...], excluded: set[str]) -> str | None:
        registry = self._registry()
        if registry is not None and not urls:
            chosen = registry.choose(service, frozenset(excluded))
            if chosen:
                return str(chosen).rstrip("/")
        candidates = urls or (self._fallback(service),)
        if len(candidates) == 1:
            return None if candidates[0] in excluded else candidates[0]
        counter = self._round_robin.get(candidates)
        if counter is None:
            counter = self._round_robin[candidates] = itertools.count()
        start = next(counter)
        for offset in range(len(candidates)):
            candidate = candidates[(start + offset) % len(candidates)]
            if candidate not in excluded:
                return candidate
        return None

    def report_failure(self, upstream: str) -> None:
        """Tell the registry client an instance did not answer, so it keeps it out of rotation for a while."""
        registry = self._registry()
        report = getattr(registry, "report_failure", None)
        if report is not None:
            report(upstream)

    def _fallback(self, service: str) -> str:
        configured = self.settings.peers.get(service)
        if configured:
            return configured.rstrip("/")
        port = DEFAULT_PORTS.get(service, 80)
        host = service if self.settings.peers_by_dns else "127.0.0.1"
        return f"http://{host}:{port}"

    def _registry(self) -> Any:
        source = self.registry_source
        if source is None:
            return None
        # Starlette's State raises (and formats) an AttributeError for a missing name: read its dict instead.
        state = getattr(source, "_state", None)
        registry = state.get("registry") if isinstance(state, dict) else getattr(source, "registry", None)
        return registry if registry is not None and hasattr(registry, "choose") else None

"""The whole shop on free ports with Prometheus, Alertmanager, an OTLP/HTTP receiver and an alert webhook.

The receivers and the two monitoring servers live on one event loop in a background thread, so they keep
answering whatever the test thread is doing (starting processes, sleeping, asserting).
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
from aiohttp import web
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from shop_testing import RunningService, data_folder_secrets, free_port, start_service

from ecommerce.local.monitoring import LocalMonitoring

T = TypeVar("T")

# Start order: registry and config first, then the six business services together, then the edge.
WAVES: tuple[tuple[str, ...], ...] = (
    ("service-discovery",),
    ("cloud-config-server",),
    ("user-service", "product-service", "favourite-service", "order-service", "shipping-service", "payment-service"),
    ("api-gateway", "proxy-client"),
)
ALL = tuple(name for wave in WAVES for name in wave)


@dataclass(frozen=True)
class ReceivedSpan:
    """One span as the OTLP receiver decoded it."""

    service: str
    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    kind: int
    attributes: dict[str, Any]


def _value(any_value: Any) -> Any:
    kind = any_value.WhichOneof("value")
    return getattr(any_value, kind) if kind else None


@dataclass
class Receivers:
    """POST /v1/traces (OTLP/HTTP protobuf) and POST /alerts (Alertmanager webhook), on one port."""

    spans: list[ReceivedSpan] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    port: int = 0

    def __post_init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="receivers", daemon=True)
        self.lock = threading.Lock()
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.thread.start()
        self.port = self.run(self._serve())

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 120) -> T:
        """Run a coroutine on the receivers' loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        if self._runner is not None:
            self.run(self._runner.cleanup())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    def spans_of(self, trace_id: str) -> list[ReceivedSpan]:
        with self.lock:
            return [span for span in self.spans if span.trace_id == trace_id]

    def alerts_received(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.alerts)

    async def _serve(self) -> int:
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_post("/v1/traces", self._traces)
        app.router.add_post("/alerts", self._alert)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None and server.sockets  # type: ignore[attr-defined]
        return int(server.sockets[0].getsockname()[1])  # type: ignore[attr-defined]

    async def _traces(self, request: web.Request) -> web.Response:
        body = await request.read()
        if request.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        export = ExportTraceServiceRequest()
        export.ParseFromString(body)
        received = []
        for resource_spans in export.resource_spans:
            resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    received.append(
                        ReceivedSpan(
                            service=str(resource.get("service.name", "")),
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_span_id=span.parent_span_id.hex(),
                            name=span.name,
                            kind=span.kind,
                            attributes={a.key: _value(a.value) for a in span.attributes},
                        )
                    )
        with self.lock:
            self.spans.extend(received)
        return web.Response(
            body=ExportTraceServiceResponse().SerializeToString(), content_type="application/x-protobuf"
        )

    async def _alert(self, request: web.Request) -> web.Response:
        payload = await request.json()
        with self.lock:
            self.alerts.append(payload)
        return web.Response(text="ok")


class TelemetryShop:
    """Ten components on free ports, traced at 100 %, scraped by Prometheus, alerting through Alertmanager."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.ports = {name: free_port() for name in ALL}
        self.urls = {name: f"http://127.0.0.1:{port}" for name, port in self.ports.items()}
        self.receivers = Receivers()
        self.services: dict[str, RunningService] = {}
        self.monitoring: LocalMonitoring | None = None

    @property
    def gateway(self) -> str:
        return self.urls["api-gateway"]

    @property
    def secrets(self) -> dict[str, str]:
        """The shop's identity secrets: its data folder's, as `ecommerce up` gives them to every component and to
        the local Prometheus (which reads its password from the same folder)."""
        return data_folder_secrets(self.data_dir)

    @property
    def prometheus(self) -> str:
        assert self.monitoring is not None
        return self.monitoring.prometheus_url

    def environment(self) -> dict[str, str]:
        return {
            "ECOMMERCE_PROFILE": "dev",
            "ECOMMERCE_INSTANCE_HOST": "127.0.0.1",
            "ECOMMERCE_PEERS": json.dumps(self.urls),
            "DISCOVERY_URL": f"{self.urls['service-discovery']}/eureka/",
            "CONFIG_SERVER_URL": self.urls["cloud-config-server"],
            "JWT_JWKS_URL": f"{self.urls['proxy-client']}/app/.well-known/jwks.json",
            "OTEL_EXPORTER_OTLP_ENDPOINT": self.receivers.url,
            "OTEL_TRACES_SAMPLER_ARG": "1",
            "OTEL_BSP_SCHEDULE_DELAY": "200",  # milliseconds: spans reach the receiver quickly
            "ECOMMERCE_ACCESS_LOG": "true",
            **self.secrets,  # instead of the session's TEST_SECRETS: Prometheus must scrape with the same ones
        }

    def start(self) -> None:
        self.receivers.start()
        env = self.environment()
        with ThreadPoolExecutor(max_workers=6) as pool:
            for wave in WAVES:
                futures = {
                    name: pool.submit(
                        start_service,
                        name,
                        port=self.ports[name],
                        env=env,
                        data_dir=self.data_dir,
                        timeout=90,
                    )
                    for name in wave
                }
                errors = []
                for name, future in futures.items():
                    try:
                        self.services[name] = future.result()
                    except RuntimeError as exc:
                        errors.append(str(exc))
                if errors:
                    raise RuntimeError("\n\n".join(errors))
        self.monitoring = LocalMonitoring(
            data_dir=self.data_dir,
            ports=self.ports,
            prometheus_port=0,
            alertmanager_port=0,
            webhook_url=f"{self.receivers.url}/alerts",
            scrape_interval="1s",
        )
        self.receivers.run(self.monitoring.start())

    def stop(self) -> None:
        if self.monitoring is not None:
            with contextlib.suppress(Exception):
                self.receivers.run(self.monitoring.stop())
        for name in reversed(ALL):
            service = self.services.get(name)
            if service is not None:
                service.stop()
        self.receivers.close()

    def log_lines(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """(component, parsed JSON line) for every JSON line every component wrote to stdout."""
        for name, service in self.services.items():
            for raw in service.logs().splitlines():
                if raw.startswith("{"):
                    with contextlib.suppress(ValueError):
                        yield name, json.loads(raw)

    def query(self, promql: str) -> dict[str, Any]:
        """Prometheus' answer to an instant query (status "success" or "error")."""
        answer = httpx.get(f"{self.prometheus}/api/v1/query", params={"query": promql}, timeout=10)
        return dict(answer.json())

    def api(self, path: str) -> Any:
        """GET a Prometheus API path and return its data."""
        answer = httpx.get(f"{self.prometheus}{path}", timeout=10)
        answer.raise_for_status()
        return answer.json()["data"]


def wait_for(condition: Callable[[], T], *, timeout: float, interval: float = 0.5, what: str = "condition") -> T:
    """Poll until `condition()` is truthy and return it; AssertionError naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)

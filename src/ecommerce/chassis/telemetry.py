"""Logs, metrics and traces, kept cheap enough to leave on.

One plain-ASGI middleware does all three per request (one pass over the headers, one timer):
- request id: reuse a sane incoming X-Request-Id or mint one, echo it on the response;
- trace context: W3C `traceparent` in and out; a span is only created for sampled requests;
- the Micrometer-named histogram `http_server_requests_seconds` labelled by route template;
- one JSON access-log line.
The same layer applies the checks every request passes: NUL in the URL (params.py), the body limit (body_limit.py),
JSON nested too deeply (json_depth.py, only for requests that carry a JSON body) and the fault switch (faults.py).
One plain-ASGI layer rather than one per concern, and no app-wide FastAPI dependency: each would cost every request
a layer or a dependency resolution (bench/results/chassis.md).
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson
import structlog
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, Span, SpanContext, SpanKind, TraceFlags
from prometheus_client import Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ecommerce.chassis import json_depth
from ecommerce.chassis.context import (
    TraceState,
    current_trace,
    is_safe_request_id,
    parse_traceparent,
    request_id_var,
    trace_var,
)
from ecommerce.chassis.errors import error_response
from ecommerce.chassis.params import URL_REFUSAL, unstorable_url

if TYPE_CHECKING:
    from ecommerce.chassis.body_limit import BodyLimit
    from ecommerce.chassis.faults import FaultSwitch

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)

HTTP_SERVER_REQUESTS = Histogram(
    "http_server_requests_seconds",
    "Inbound HTTP requests by route template",
    ["application", "method", "uri", "status", "outcome"],
    buckets=BUCKETS,
)
MEMORY_LIMIT = Gauge("process_memory_limit_bytes", "The cgroup memory limit of this process", ["application"])


# --- logging -------------------------------------------------------------------------------------------


def _add_context(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
    request_id = request_id_var.get()
    if request_id:
        event.setdefault("request_id", request_id)
    state = current_trace()
    if state is not None:
        event.setdefault("trace_id", f"{state.trace_id:032x}")
        event.setdefault("span_id", f"{state.span_id:016x}")
    return event


# Logs go to file descriptor 1 itself, so a replaced or closed `sys.stdout` (test capture) cannot break them.
_STDOUT_BYTES = open(1, "wb", buffering=0, closefd=False)  # noqa: SIM115 - lives as long as the process
_STDOUT_TEXT = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115


def configure_logging(service: str, level: str = "INFO") -> None:
    """JSON lines on stdout for our logs and for the libraries' stdlib logging."""
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        numeric = logging.INFO
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
        _add_context,
        lambda _l, _n, event: {**event, "service": service},
    ]
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, structlog.processors.JSONRenderer(orjson.dumps)],
        logger_factory=structlog.BytesLoggerFactory(_STDOUT_BYTES),
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        cache_logger_on_first_use=False,  # a refreshed log level must reach loggers already in use
    )
    handler = logging.StreamHandler(_STDOUT_TEXT)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.JSONRenderer(lambda obj, **_: orjson.dumps(obj).decode()),
            ],
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name, structlog.processors.format_exc_info],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
    for noisy in ("uvicorn.access",):
        logging.getLogger(noisy).disabled = True


# --- tracing -------------------------------------------------------------------------------------------


def configure_tracing(service: str, endpoint: str | None) -> trace.Tracer | None:
    """Export spans over OTLP/HTTP when an endpoint is set; otherwise tracing costs nothing."""
    if not endpoint:
        return None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased

    # Root sampling is decided in the middleware (cheaply, before any span exists); child spans follow it.
    provider = TracerProvider(resource=Resource.create({"service.name": service}), sampler=ParentBased(ALWAYS_ON))
    url = endpoint.rstrip("/")
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{url}/v1/traces")))
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        trace.set_tracer_provider(provider)
    return provider.get_tracer("ecommerce")


# --- the middleware ------------------------------------------------------------------------------------

_OUTCOMES = {1: "INFORMATIONAL", 2: "SUCCESS", 3: "REDIRECTION", 4: "CLIENT_ERROR", 5: "SERVER_ERROR"}
_LOW_64 = (1 << 64) - 1


class TelemetryMiddleware:
    """The chassis' one per-request layer: request id, trace context, request metrics and the access log, plus the
    checks every request passes (the body limit, the fault switch), in one pass over the headers.

    One layer instead of one per concern: each plain-ASGI layer costs a coroutine and a call per request.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        application: str,
        tracer: trace.Tracer | None = None,
        sampling_ratio: float = 0.1,
        access_log: bool = True,
        route_templates: dict[int, str] | None = None,
        body_limit: BodyLimit | None = None,
        faults: FaultSwitch | None = None,
    ) -> None:
        self.app = app
        self.route_templates = route_templates or {}
        self.application = application
        self.tracer = tracer
        self.sampling_ratio = sampling_ratio
        self.access_log = access_log
        self.body_limit = body_limit
        self.faults = faults
        # (method, id(route), status) -> the route template (the `uri` label) and its histogram child's observe
        self._observers: dict[tuple[str, int, int], tuple[str, Callable[[float], None]]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = parent = length = content_type = None
        chunked = False
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                request_id = value.decode("latin-1") if is_safe_request_id(value) else None
            elif name == b"traceparent":
                parent = parse_traceparent(value)
            elif name == b"content-length":
                length = value
            elif name == b"transfer-encoding":
                chunked = True
            elif name == b"content-type":
                content_type = value
        if request_id is None:
            request_id = f"{random.getrandbits(64):016x}"
        status = 500
        request_id_header = (b"x-request-id", request_id.encode())

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), request_id_header]
            await send(message)

        method: str = scope["method"]
        rid_token = request_id_var.set(request_id)
        if parent is None and (self.tracer is None or random.random() >= self.sampling_ratio):
            # Not sampled: mint a trace id for logs, errors and peers, but create no span at all.
            trace_id = random.getrandbits(128) or 1
            span, state = None, TraceState(trace_id, (trace_id & _LOW_64) or 1, False)
        else:
            span, state = self._start_trace(method, parent)
        trace_token = trace_var.set(state)
        span_token = otel_context.attach(trace.set_span_in_context(span)) if span is not None else None
        try:
            if unstorable_url(scope):
                await error_response(scope, 400, URL_REFUSAL)(scope, receive, send_wrapper)
                return
            if length is not None or chunked:
                body_limit = self.body_limit
                if body_limit is not None and length is not None and body_limit.exceeded_by(length):
                    await body_limit.refusal(scope)(scope, receive, send_wrapper)
                    return
                if chunked or length != b"0":  # wrap `receive` only when a body may follow
                    if content_type is None or b"json" in content_type:
                        receive = json_depth.guard(receive)
                    if body_limit is not None:  # outermost: the reader calls it first
                        receive = body_limit.guard(receive)
            faults = self.faults
            if faults is not None and faults.active and faults.applies_to(scope["path"]):
                if await faults.inject(scope, receive, send_wrapper):
                    return
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - started
            observer = self._observers.get((method, id(scope.get("route")), status))
            if observer is None:
                observer = self._observer(method, scope.get("route"), status)
            uri, observe = observer
            observe(elapsed)
            if self.access_log and "/actuator/" not in scope["path"]:
                log_access(self.application, method, scope["path"], status, elapsed, request_id, state)
            if span is not None:
                _end_span(span, method, uri, status)
            if span_token is not None:
                otel_context.detach(span_token)
            trace_var.reset(trace_token)
            request_id_var.reset(rid_token)

    def _start_trace(self, method: str, parent: TraceState | None) -> tuple[Span | None, TraceState]:
        """The trace of a request that has a parent or was picked for sampling: a server span when sampled, else the
        caller's trace, span-less."""
        if (parent is None or parent.sampled) and self.tracer is not None:
            context = None
            if parent is not None:
                remote = SpanContext(parent.trace_id, parent.span_id, True, TraceFlags(TraceFlags.SAMPLED))
                context = trace.set_span_in_context(NonRecordingSpan(remote))
            attributes = {"http.request.method": method}
            span = self.tracer.start_span(method, context=context, kind=SpanKind.SERVER, attributes=attributes)
            span_context = span.get_span_context()
            return span, TraceState(span_context.trace_id, span_context.span_id, True)
        if parent is not None:
            return None, TraceState(parent.trace_id, parent.span_id, False)
        trace_id = random.getrandbits(128) or 1  # picked for sampling, but no tracer
        return None, TraceState(trace_id, (trace_id & _LOW_64) or 1, False)

    def _observer(self, method: str, route: Any, status: int) -> tuple[str, Callable[[float], None]]:
        """The `uri` label and the histogram child of a method, route and status, looked up once."""
        if route is None:
            uri = "NOT_FOUND" if status == 404 else "UNKNOWN"
        else:
            uri = self.route_templates.get(id(route)) or str(getattr(route, "path", "UNKNOWN"))
        outcome = _OUTCOMES.get(status // 100, "UNKNOWN")
        child = HTTP_SERVER_REQUESTS.labels(self.application, method, uri, str(status), outcome)
        observer = self._observers[(method, id(route), status)] = (uri, child.observe)
        return observer


def _end_span(span: Span, method: str, uri: str, status: int) -> None:
    # One attribute call: each one takes the span's lock and cleans the values.
    span.set_attributes({"http.route": uri, "http.response.status_code": status})
    span.update_name(f"{method} {uri}")
    if status >= 500:
        span.set_status(trace.Status(trace.StatusCode.ERROR))
    span.end()


def log_access(
    application: str, method: str, path: str, status: int, elapsed: float, request_id: str, state: TraceState
) -> None:
    """One JSON access-log line (also used by the api-gateway's fast lane, which bypasses the middleware)."""
    # orjson straight into a buffer flushed every quarter second: the structlog pipeline and a write per line would cost
    # more than the rest of this middleware (bench/results/chassis.md).
    line = {
        "timestamp": _timestamp(),
        "level": "info",
        "event": "request",
        "service": application,
        "method": method,
        "path": path,
        "status": status,
        "duration_ms": round(elapsed * 1000, 3),
        "request_id": request_id,
        "trace_id": f"{state.trace_id:032x}",
        "span_id": f"{state.span_id:016x}",
    }
    ACCESS_LOG.write(orjson.dumps(line))


_clock: list[Any] = [0, ""]


def _timestamp() -> str:
    """ISO-8601 UTC to the second, formatted once per second."""
    now = int(time.time())
    if now != _clock[0]:
        _clock[0], _clock[1] = now, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
    return str(_clock[1])


class _BufferedLines:
    """Log lines gathered in memory and written to stdout in one call every `interval` seconds.

    A quarter second: whoever reads stdout (`ecommerce up`'s relay, a container runtime) wakes once per write, and
    at 50 ms ten components under load woke the relay about 200 times a second (bench/results/checkout.md); a line
    still reaches the log within the time a person notices.
    """

    def __init__(self, interval: float = 0.25, limit: int = 64 * 1024) -> None:
        self.interval = interval
        self.limit = limit
        self._buffer = bytearray()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_loop: asyncio.AbstractEventLoop | None = None

    def write(self, line: bytes) -> None:
        self._buffer += line
        self._buffer += b"\n"
        if len(self._buffer) >= self.limit:
            self.flush()
            return
        if self._timer_loop is not None and self._timer_loop.is_running():
            return  # a flush is due on the live loop (asking for the running loop is a getpid call per line)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()
            return
        # A timer left on a loop that has stopped (a test's, or start-up's) would never fire: schedule anew.
        if self._timer is None or self._timer_loop is not loop or loop.is_closed():
            self._timer = loop.call_later(self.interval, self.flush)
            self._timer_loop = loop

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = self._timer_loop = None
        if self._buffer:
            data, self._buffer = memoryview(bytes(self._buffer)), bytearray()
            while data:  # straight to file descriptor 1, the process's stdout, whatever wraps sys.stdout
                data = data[os.write(1, data) :]


ACCESS_LOG = _BufferedLines()
atexit.register(ACCESS_LOG.flush)


def read_memory_limit() -> int | None:
    """The cgroup v2 (or v1) memory limit in bytes, or None when unlimited."""
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            raw = open(path).read().strip()  # noqa: SIM115 - a one-shot read of a kernel file
        except OSError:
            continue
        if raw.isdigit() and int(raw) < 1 << 60:
            return int(raw)
    return None

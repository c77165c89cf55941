"""The gateway's own metrics (every series carries `application`)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from ecommerce.chassis import BUCKETS

UPSTREAM_REQUESTS = Counter(
    "gateway_upstream_requests",
    "Requests sent to upstreams, by route, upstream and outcome",
    ["application", "route", "upstream", "outcome"],
)
UPSTREAM_SECONDS = Histogram(
    "gateway_upstream_request_seconds",
    "Time until the upstream's response headers",
    ["application", "route", "upstream"],
    buckets=BUCKETS,
)
RETRIES = Counter("gateway_retries", "Requests retried on another attempt", ["application", "route"])
CIRCUIT_STATE = Gauge("gateway_circuit_state", "0 closed, 1 open, 2 half-open", ["application", "upstream"])
RATE_LIMITED = Counter("gateway_rate_limited", "Requests refused by a rate limit", ["application", "route"])

"""The canary gate: ask Prometheus for the canary's error rate and p95 latency next to the stable track's.

    ecommerce canary gate --prometheus http://127.0.0.1:9090 --service product-service --namespace dev

Exit 0 when the canary may take more traffic, 1 when it must be rolled back, 2 when Prometheus cannot answer.
Canary pods are told apart by their pod name (<service>-canary-...), which the ServiceMonitor scrape adds.
"""

from __future__ import annotations

import json
import math
import urllib.parse
import urllib.request
from dataclasses import dataclass


@dataclass(frozen=True)
class TrackStats:
    error_rate: float | None
    p95_seconds: float | None
    requests_per_second: float | None


def query(prometheus: str, promql: str, timeout: float = 10.0) -> float | None:
    """The single value of an instant query, or None when there is no sample (or NaN)."""
    url = f"{prometheus.rstrip('/')}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"
    with urllib.request.urlopen(url, timeout=timeout) as response:
        body = json.load(response)
    if body.get("status") != "success":
        raise RuntimeError(f"Prometheus error: {body.get('error', body)}")
    result = body["data"]["result"]
    if not result:
        return None
    value = float(result[0]["value"][1])
    return None if math.isnan(value) else value


def track_stats(prometheus: str, *, service: str, namespace: str, canary: bool, window: str) -> TrackStats:
    pod = f'pod=~"{service}-canary-.*"' if canary else f'pod!~"{service}-canary-.*"'
    sel = f'application="{service}",namespace="{namespace}",{pod}'
    total = f"sum(rate(http_server_requests_seconds_count{{{sel}}}[{window}]))"
    errors = f'sum(rate(http_server_requests_seconds_count{{{sel},outcome="SERVER_ERROR"}}[{window}]))'
    p95 = f"histogram_quantile(0.95, sum by (le) (rate(http_server_requests_seconds_bucket{{{sel}}}[{window}])))"
    rps = query(prometheus, total)
    error_count = query(prometheus, errors)
    error_rate = None if not rps else (error_count or 0.0) / rps
    return TrackStats(error_rate=error_rate, p95_seconds=query(prometheus, p95), requests_per_second=rps)


def judge(
    canary: TrackStats, stable: TrackStats, *, max_error_delta: float, max_latency_ratio: float, latency_floor: float
) -> list[str]:
    """Reasons to roll back (empty: the canary passes). No canary traffic yet is not a failure."""
    reasons = []
    if canary.error_rate is not None:
        allowed = (stable.error_rate or 0.0) + max_error_delta
        if canary.error_rate > allowed:
            reasons.append(f"error rate {canary.error_rate:.2%} > allowed {allowed:.2%}")
    if canary.p95_seconds is not None:
        allowed_p95 = max(latency_floor, (stable.p95_seconds or 0.0) * max_latency_ratio)
        if canary.p95_seconds > allowed_p95:
            reasons.append(f"p95 {canary.p95_seconds * 1000:.0f} ms > allowed {allowed_p95 * 1000:.0f} ms")
    return reasons

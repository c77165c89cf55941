"""The canary gate: ask Prometheus for the canary's error rate and p95 latency next to the stable track's.

    python -m ecommerce.ops.canary --prometheus http://127.0.0.1:9090 --service product-service --namespace dev

Exit 0 when the canary may take more traffic, 1 when it must be rolled back, 2 when Prometheus cannot answer.
Canary pods are told apart by their pod name (<service>-canary-...), which the ServiceMonitor scrape adds.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
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


def _fmt(value: float | None, scale: float = 1.0, unit: str = "") -> str:
    return "no data" if value is None else f"{value * scale:.3f}{unit}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ecommerce.ops.canary", description=__doc__.splitlines()[0])
    parser.add_argument("--prometheus", required=True)
    parser.add_argument("--service", required=True)
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--window", default="2m")
    parser.add_argument("--max-error-delta", type=float, default=0.01)
    parser.add_argument("--max-latency-ratio", type=float, default=1.5)
    parser.add_argument("--latency-floor", type=float, default=0.25, help="p95 below this many seconds always passes")
    options = parser.parse_args(argv)
    common = {"service": options.service, "namespace": options.namespace, "window": options.window}
    try:
        canary = track_stats(options.prometheus, canary=True, **common)
        stable = track_stats(options.prometheus, canary=False, **common)
    except (OSError, RuntimeError, ValueError, KeyError) as error:
        print(f"gate: cannot query Prometheus at {options.prometheus}: {error}", file=sys.stderr)
        return 2
    for name, stats in (("stable", stable), ("canary", canary)):
        print(
            f"gate: {name:<6} rps={_fmt(stats.requests_per_second)} errors={_fmt(stats.error_rate, 100, '%')} "
            f"p95={_fmt(stats.p95_seconds, 1000, 'ms')}"
        )
    reasons = judge(
        canary,
        stable,
        max_error_delta=options.max_error_delta,
        max_latency_ratio=options.max_latency_ratio,
        latency_floor=options.latency_floor,
    )
    if reasons:
        print("gate: FAIL: " + "; ".join(reasons))
        return 1
    if canary.requests_per_second is None:
        print("gate: pass (no canary traffic measured yet)")
    else:
        print("gate: pass")
    return 0


if __name__ == "__main__":
    sys.exit(main())

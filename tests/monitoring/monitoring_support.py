"""Shared helpers of the monitoring tests: paths, the repository root on sys.path, finding the tools."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "monitoring"
TOOLS_BIN = ROOT / ".tools" / "bin"

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def find_tool(name: str) -> str:
    """The path of a tool from .tools/bin (preferred) or PATH; fail in CI, skip elsewhere, when missing."""
    local = TOOLS_BIN / name
    if local.exists() and os.access(local, os.X_OK):
        return str(local)
    found = shutil.which(name)
    if found:
        return found
    message = f"{name} is not installed: run `bash tools/install-prometheus.sh`"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """Run a tool and capture its output (never raises on a non-zero exit)."""
    return subprocess.run(args, capture_output=True, text=True, timeout=60, cwd=cwd, check=False)


# The metrics the system contract defines (common.md, "Metrics"), plus the histogram series Prometheus derives.
_CONTRACT_HISTOGRAMS = (
    "http_server_requests_seconds",
    "http_client_requests_seconds",
    "gateway_upstream_request_seconds",
)
CONTRACT_METRICS = frozenset(
    [f"{h}{suffix}" for h in _CONTRACT_HISTOGRAMS for suffix in ("_bucket", "_count", "_sum")]
    + [
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
        "process_start_time_seconds",
        "process_memory_limit_bytes",
        "python_gc_objects_collected_total",
        "python_gc_objects_uncollectable_total",
        "python_gc_collections_total",
        "db_pool_connections_active",
        "db_pool_connections_idle",
        "db_pool_connections_max",
        "db_pool_connections_pending",
        "circuit_breaker_state",
        "gateway_upstream_requests_total",
        "gateway_retries_total",
        "gateway_circuit_state",
        "gateway_rate_limited_total",
        "eureka_instances",
        "eureka_renewals_total",
        "eureka_evictions_total",
        "shop_orders_created_total",
        "shop_checkouts_failed_total",
        "shop_stock_reservations_refused_total",
        "shop_payments_total",
        "shop_signins_total",
        "shop_revenue_total",
        "shop_reconcile_found_total",
        "shop_reconcile_repaired_total",
        "shop_reconcile_runs_total",
        "shop_reconcile_last_success_timestamp_seconds",
        "outbox_events_pending",
        "outbox_events_delivered_total",
        "outbox_delivery_retries_total",
    ]
)
# Series Prometheus, cAdvisor (kubelet) and kube-state-metrics publish in every cluster.
STANDARD_METRICS = frozenset(
    [
        "up",
        "ALERTS",
        "container_memory_working_set_bytes",
        "container_cpu_usage_seconds_total",
        "kube_pod_container_resource_limits",
        "kube_pod_container_status_restarts_total",
    ]
)
_KEYWORDS = frozenset(
    ["by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset", "inf"]
)
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENT = re.compile(r"(?<![\w:.])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w:])(?!\s*\()")


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (functions, keywords, labels and durations removed)."""
    text = _STRING.sub('""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = _GROUPING.sub(" ", text)
    return {name for name in _IDENT.findall(text) if name.lower() not in _KEYWORDS}


def recorded_metrics() -> set[str]:
    """The names our recording rules define."""
    names = set()
    for path in (MONITORING / "rules").glob("*.yaml"):
        for group in yaml.safe_load(path.read_text())["groups"]:
            names.update(rule["record"] for rule in group["rules"] if "record" in rule)
    return names

"""Observability end to end: the shop with Prometheus and Alertmanager, real purchases, real spans and logs.

The ten components run as real processes on free ports, traced at 100 % to an OTLP/HTTP receiver run by this
test; Prometheus (scraping every second, the shop's rules as shipped) and Alertmanager (posting to this test's
webhook) run from .tools/bin. The local template has no `for` override, so the outage test waits for the real
ServiceDown rule: `for: 1m` in a group evaluated every 30 s fires 60 to 90 s after the service stops. That wait
also covers the first evaluation of the SLO groups (every minute), so the rules and dashboards are checked after
it. The tests run in file order and share one shop; about two and a half minutes in all.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import yaml
from shop_testing import ROOT, operator_headers, require
from telemetry_shop import ALL, ReceivedSpan, TelemetryShop, wait_for

pytestmark = pytest.mark.slow

DASHBOARDS = ROOT / "monitoring" / "dashboards"
RULES = ROOT / "monitoring" / "rules"
USER = ("selimhorri", "selimhorri-demo")
# The hops of a purchase through the edge: gateway -> storefront -> order-service -> its peers.
PURCHASE_HOPS = {
    "api-gateway",
    "proxy-client",
    "order-service",
    "product-service",
    "payment-service",
    "shipping-service",
}
STOPPED = "favourite-service"  # not on the purchase path
BROWSING_ROUNDS = 20
# Grafana's variables, as a local Prometheus without namespaces wants them.
VARIABLES = {"$__rate_interval": "5m", "$__range": "1h", "$namespace": ".*"}
_SERVICE_PANELS = {"Requests per second", "Latency p95", "Responses by status", "Process memory", "Process CPU"}
_RUNTIME_PANELS = {"Process memory", "Process CPU", "Python GC collections", "Uptime"}
_POOL_PANELS = {"Pool connections", "Pool use and waiters"}
_PEER_PANELS = {"Calls per peer and outcome", "Peer latency p95", "Circuit breakers (0 closed, 1 open, 2 half-open)"}
# Panels that must show data after a few purchases (dashboard -> panel titles). Not key: what a healthy local
# shop never produces (5xx, retries, refused reservations, failed checkouts, Kubernetes' container series,
# firing alerts) and the availability SLOs, whose error ratio has no sample while there are no errors.
KEY_PANELS: dict[str, set[str]] = {
    "shop-overview": {"Targets up", "Requests per second", "Latency p95", "Latency p99", "Orders per minute"},
    "api-gateway": {
        "Upstream requests by outcome",
        "Upstream latency p95",
        "Upstream circuits (0 closed, 1 open, 2 half-open)",
        "Requests per second",
        "Latency p95",
    },
    "business-kpis": {
        "Orders created (last 24h)",
        "Revenue (last 24h)",
        "Orders per minute",
        "Payments per minute by outcome",
        "Sign-ins per minute by outcome",
    },
    "database-pools": _POOL_PANELS,
    "component-service-discovery": _RUNTIME_PANELS | {"Registered instances by application and status"},
    "component-cloud-config-server": _RUNTIME_PANELS,
    "component-api-gateway": _SERVICE_PANELS | _RUNTIME_PANELS,
    "component-proxy-client": _SERVICE_PANELS | _RUNTIME_PANELS | _PEER_PANELS,
    "component-user-service": _SERVICE_PANELS | _RUNTIME_PANELS | _POOL_PANELS,
    "component-product-service": _SERVICE_PANELS | _RUNTIME_PANELS | _POOL_PANELS,
    "component-order-service": _SERVICE_PANELS | _RUNTIME_PANELS | _POOL_PANELS | _PEER_PANELS,
    "component-payment-service": _SERVICE_PANELS | _RUNTIME_PANELS | _POOL_PANELS | _PEER_PANELS,
    "component-shipping-service": _SERVICE_PANELS | _RUNTIME_PANELS | _POOL_PANELS | _PEER_PANELS,
}
KEY_SLOS = ("api-gateway-latency", "checkout-latency")


@dataclass
class Purchase:
    request_id: str
    order_id: int
    payment_id: int
    trace_id: str = ""


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TelemetryShop]:
    tools = ROOT / ".tools" / "bin"
    for tool in ("prometheus", "alertmanager"):
        require(os.access(tools / tool, os.X_OK), f"{tool} is not installed: run `make tools`")
    shop = TelemetryShop(tmp_path_factory.mktemp("telemetry"))
    try:
        shop.start()
        yield shop
    finally:
        shop.stop()


@pytest.fixture(scope="module")
def purchases(shop: TelemetryShop) -> list[Purchase]:
    """A shopper browses, signs in and makes three purchases (check out, pay) through the gateway.

    The browsing gives every component on the way (and the config server, read as a refresh would) enough
    ordinary requests that one slow first request on a busy machine does not move its p95 past the
    HighResponseTime threshold: the alert rules must stay quiet for a healthy shop.
    """
    done = []
    # The config server answers proven callers only; the operator may read every application's documents.
    operator = operator_headers(shop.secrets)
    with httpx.Client(base_url=shop.urls["cloud-config-server"], headers=operator, timeout=10) as config:
        for name in ALL * 2:
            assert config.get(f"/{name}/dev").status_code == 200
    with httpx.Client(base_url=shop.gateway, timeout=30) as http:
        signed_in = http.post("/app/api/authenticate", json={"username": USER[0], "password": USER[1]})
        assert signed_in.status_code == 200, signed_in.text
        auth = {"Authorization": f"Bearer {signed_in.json()['jwtToken']}"}
        for _ in range(BROWSING_ROUNDS):
            assert http.get("/product-service/api/products").status_code == 200
            assert http.get("/app/api/products").status_code == 200
            assert http.get("/app/api/users", headers=auth).status_code == 200
        for product_id in (1, 2, 3):
            request_id = f"purchase-{uuid.uuid4().hex}"
            placed = http.post(
                "/app/api/checkout",
                json={"items": [{"productId": product_id, "quantity": 1}]},
                headers={**auth, "Idempotency-Key": uuid.uuid4().hex, "X-Request-Id": request_id},
            )
            assert placed.status_code == 201, placed.text
            assert placed.headers["X-Request-Id"] == request_id
            order = placed.json()
            for status in ("IN_PROGRESS", "COMPLETED"):
                paid = http.patch(
                    f"/app/api/payments/{order['paymentId']}", json={"paymentStatus": status}, headers=auth
                )
                assert paid.status_code == 200, paid.text
            done.append(Purchase(request_id, int(order["orderId"]), int(order["paymentId"])))
    for purchase in done:
        purchase.trace_id = wait_for(
            lambda p=purchase: _gateway_trace_id(shop, p.request_id), timeout=10, what="the gateway's access log"
        )
    return done


def _gateway_trace_id(shop: TelemetryShop, request_id: str) -> str | None:
    for name, line in shop.log_lines():
        if name == "api-gateway" and line.get("request_id") == request_id and line.get("event") == "request":
            return str(line["trace_id"])
    return None


def test_every_component_is_an_up_target(shop: TelemetryShop) -> None:
    def all_up() -> dict[str, str] | None:
        targets = shop.api("/api/v1/targets")["activeTargets"]
        health = {t["labels"]["job"]: t["health"] for t in targets}
        return health if set(health) == set(ALL) and set(health.values()) == {"up"} else None

    health = wait_for(all_up, timeout=20, what="every component's target to be up")
    assert set(health) == set(ALL)
    for name in ALL:
        (sample,) = shop.query(f'up{{job="{name}"}}')["data"]["result"]
        assert sample["metric"]["application"] == name
        assert sample["value"][1] == "1"


def test_a_purchase_is_one_trace_through_every_hop(shop: TelemetryShop, purchases: list[Purchase]) -> None:
    purchase = purchases[-1]

    def whole_trace() -> list[ReceivedSpan] | None:
        spans = shop.receivers.spans_of(purchase.trace_id)
        ids = {span.span_id for span in spans}
        services = {span.service for span in spans}
        orphans = [s for s in spans if s.parent_span_id and s.parent_span_id not in ids]
        return spans if PURCHASE_HOPS <= services and not orphans else None

    spans = wait_for(whole_trace, timeout=20, what=f"every hop's spans of trace {purchase.trace_id}")
    roots = [span for span in spans if not span.parent_span_id]
    assert len(roots) == 1 and roots[0].service == "api-gateway", roots
    assert roots[0].name.startswith("POST ")
    servers = {span.service for span in spans if span.kind == 2}  # SPAN_KIND_SERVER
    assert PURCHASE_HOPS <= servers
    by_id = {span.span_id: span for span in spans}
    # Each hop's server span hangs below a span of the caller: the trace is one tree, not ten.
    for span in spans:
        if span.kind == 2 and span.parent_span_id:
            assert by_id[span.parent_span_id].service != span.service, span
    database = [span for span in spans if "db.system" in span.attributes]
    assert {span.service for span in database} >= {"order-service", "product-service", "payment-service"}
    for span in database:
        assert span.attributes["db.system"] == "sqlite"
        assert span.attributes["db.statement"]
        assert by_id[span.parent_span_id].service == span.service
    # Every purchase is its own trace.
    assert len({p.trace_id for p in purchases}) == len(purchases)


def test_each_log_line_of_a_purchase_carries_its_trace_id(shop: TelemetryShop, purchases: list[Purchase]) -> None:
    for purchase in purchases:
        lines = [(name, line) for name, line in shop.log_lines() if line.get("request_id") == purchase.request_id]
        assert {name for name, _ in lines} >= PURCHASE_HOPS, lines
        for name, line in lines:
            assert line.get("trace_id") == purchase.trace_id, (name, line)
            assert len(line.get("span_id", "")) == 16, (name, line)
            assert line["service"] == name


def _dashboard_panels() -> list[tuple[str, str, list[str]]]:
    """(dashboard, panel title, its queries with Grafana's variables expanded) for every panel with queries."""
    found = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        for panel in json.loads(path.read_text())["panels"]:
            exprs = []
            for target in panel.get("targets", []):
                expr = target["expr"]
                for variable, value in VARIABLES.items():
                    expr = expr.replace(variable, value)
                exprs.append(expr)
            if exprs:
                found.append((path.stem, panel["title"], exprs))
    return found


def _alert_names() -> set[str]:
    names = set()
    for path in RULES.glob("*.yaml"):
        for group in yaml.safe_load(path.read_text())["groups"]:
            names.update(rule["alert"] for rule in group["rules"] if "alert" in rule)
    return names


def test_a_stopped_service_fires_service_down_at_the_webhook_and_nothing_else_fires(
    shop: TelemetryShop, purchases: list[Purchase]
) -> None:
    # Quiet before the outage: nothing pending or firing, no rule evaluated with an error, nothing posted.
    assert shop.api("/api/v1/alerts")["alerts"] == []
    rules = [rule for group in shop.api("/api/v1/rules")["groups"] for rule in group["rules"]]
    assert [rule for rule in rules if rule["health"] == "err"] == []
    assert shop.receivers.alerts_received() == []

    shop.services[STOPPED].stop()
    wait_for(
        lambda: shop.query(f'up{{job="{STOPPED}"}} == 0')["data"]["result"],
        timeout=10,
        what=f"Prometheus to see {STOPPED} down",
    )

    def service_down() -> list[dict[str, Any]]:
        return [
            alert
            for payload in shop.receivers.alerts_received()
            for alert in payload["alerts"]
            if alert["status"] == "firing"
            and alert["labels"].get("alertname") == "ServiceDown"
            and alert["labels"].get("application") == STOPPED
        ]

    (alert, *_) = wait_for(service_down, timeout=130, interval=1, what=f"ServiceDown for {STOPPED} at the webhook")
    assert alert["labels"]["severity"] == "critical"
    assert alert["labels"]["job"] == STOPPED
    assert alert["annotations"]["runbook_url"].endswith("/docs/runbooks/ServiceDown.md")
    assert STOPPED in alert["annotations"]["summary"]
    posted = {
        (a["labels"]["alertname"], a["labels"]["application"])
        for p in shop.receivers.alerts_received()
        for a in p["alerts"]
    }
    assert posted == {("ServiceDown", STOPPED)}


def test_every_alert_rule_is_loaded_evaluated_and_quiet_but_the_outage(
    shop: TelemetryShop, purchases: list[Purchase]
) -> None:
    def evaluated() -> list[dict[str, Any]] | None:
        rules = [rule for group in shop.api("/api/v1/rules")["groups"] for rule in group["rules"]]
        never = [rule for rule in rules if rule["lastEvaluation"].startswith("0001-")]
        return rules if rules and not never else None

    rules = wait_for(evaluated, timeout=70, interval=1, what="every rule group's first evaluation")
    for rule in rules:
        assert rule["health"] == "ok", rule
    alerts = {rule["name"]: rule for rule in rules if rule["type"] == "alerting"}
    assert set(alerts) == _alert_names()
    for name, rule in alerts.items():
        if name == "ServiceDown":
            assert rule["state"] == "firing"
            assert [a["labels"]["application"] for a in rule["alerts"]] == [STOPPED]
        else:
            assert rule["state"] == "inactive", rule


def test_every_dashboard_query_parses_and_the_key_panels_show_data(
    shop: TelemetryShop, purchases: list[Purchase]
) -> None:
    panels = _dashboard_panels()
    assert sum(len(exprs) for _, _, exprs in panels) > 100
    queries = [(board, title, expr) for board, title, exprs in panels for expr in exprs]
    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(shop.query, [expr for _, _, expr in queries]))
    errors, with_data = [], set()
    for (board, title, expr), answer in zip(queries, answers, strict=True):
        if answer["status"] != "success":
            errors.append((board, title, expr, answer.get("error")))
        elif answer["data"]["result"]:
            with_data.add((board, title))
    assert not errors, errors
    missing = sorted(
        (board, title) for board, titles in KEY_PANELS.items() for title in titles if (board, title) not in with_data
    )
    assert not missing, missing
    assert {board for board, _, _ in panels} >= set(KEY_PANELS)
    for slo in KEY_SLOS:
        assert shop.query(f'slo:sli_error:ratio_rate5m{{slo="{slo}"}}')["data"]["result"], slo
        assert shop.query(f'slo:error_budget_remaining:ratio{{slo="{slo}"}}')["data"]["result"], slo
    orders = shop.query("sum(shop_orders_created_total)")["data"]["result"]
    assert float(orders[0]["value"][1]) >= len(purchases)

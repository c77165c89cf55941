"""Write the Grafana dashboards of monitoring/dashboards/ from one template, built with Grafana's own SDK.

The shop describes its dashboards (rows of panels: title, queries, unit, size) and grafana-foundation-sdk's builders
turn them into Grafana's dashboard model, so the JSON follows Grafana's schema instead of a hand-kept copy of it.
Run from the repository root: `.venv/bin/python -m monitoring.dashboards.generate` (`--check` reports drift;
a test fails when the committed JSON differs from what this script writes). The shop's chart ships every
JSON file in a ConfigMap labelled grafana_dashboard=1, which Grafana's sidecar loads.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from grafana_foundation_sdk.builders import common, dashboard, prometheus, stat, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common as common_models
from grafana_foundation_sdk.models import dashboard as dashboard_models

from monitoring.catalog import COMPONENTS, JOBS_REGEX, Component
from monitoring.slo import SLO_FILES

OUT_DIR = Path(__file__).resolve().parent
NS = 'namespace=~"$namespace"'
RATE = "$__rate_interval"
NOT_ACTUATOR = 'uri!~".*/actuator/.*"'
DATASOURCE = dashboard_models.DataSourceRef(type_val="prometheus", uid="${datasource}")


@dataclass
class Panel:
    """One Grafana panel: a title, its queries (expr, legend) and how to show them."""

    title: str
    targets: list[tuple[str, str]]
    unit: str = "short"
    kind: str = "timeseries"  # timeseries | stat
    description: str = ""
    width: int = 12
    height: int = 8


@dataclass
class Row:
    """A titled row of panels."""

    title: str
    panels: list[Panel]


def _zero_filled(errors: str, requests: str, by: str) -> str:
    """The error rate, 0 (not "no data") for series that had requests but no errors."""
    return f"(sum by ({by}) (rate({errors}[{RATE}])) or sum by ({by}) (rate({requests}[{RATE}])) * 0)"


def _request_panels(selector: str, by: str, title_suffix: str = "") -> list[Panel]:
    req = f"http_server_requests_seconds_count{{{selector}, {NS}, {NOT_ACTUATOR}}}"
    bucket = f"http_server_requests_seconds_bucket{{{selector}, {NS}, {NOT_ACTUATOR}}}"
    errors = f'http_server_requests_seconds_count{{{selector}, {NS}, {NOT_ACTUATOR}, status=~"5.."}}'
    return [
        Panel(
            f"Requests per second{title_suffix}",
            [(f"sum by ({by}) (rate({req}[{RATE}]))", f"{{{{{by}}}}}")],
            unit="reqps",
        ),
        Panel(
            f"Share of 5xx responses{title_suffix}",
            [(f"{_zero_filled(errors, req, by)} / sum by ({by}) (rate({req}[{RATE}]))", f"{{{{{by}}}}}")],
            unit="percentunit",
            description="HighErrorRate fires above 5% for 5 minutes.",
        ),
        Panel(
            f"Latency p95{title_suffix}",
            [(f"histogram_quantile(0.95, sum by ({by}, le) (rate({bucket}[{RATE}])))", f"{{{{{by}}}}}")],
            unit="s",
            description="HighResponseTime fires above 1s for 5 minutes.",
        ),
        Panel(
            f"Latency p99{title_suffix}",
            [(f"histogram_quantile(0.99, sum by ({by}, le) (rate({bucket}[{RATE}])))", f"{{{{{by}}}}}")],
            unit="s",
        ),
    ]


def overview() -> list[Row]:
    """The shop at a glance: which components are up, and traffic, errors and latency per component."""
    up = f'up{{job=~"{JOBS_REGEX}", {NS}}}'
    return [
        Row(
            "Health",
            [
                Panel("Targets up", [(f"sum by (job) ({up})", "{{job}}")], kind="stat", width=16, height=5),
                Panel(
                    "Firing alerts",
                    [('count by (alertname) (ALERTS{alertstate="firing"})', "{{alertname}}")],
                    kind="stat",
                    width=8,
                    height=5,
                ),
            ],
        ),
        Row("Traffic, errors and latency per service", _request_panels('application=~".+"', "application")),
        Row(
            "Business",
            [
                Panel(
                    "Orders per minute",
                    [(f"sum(rate(shop_orders_created_total{{{NS}}}[{RATE}])) * 60", "orders")],
                    unit="short",
                ),
                Panel(
                    "Failed checkouts per minute",
                    [(f"sum by (reason) (rate(shop_checkouts_failed_total{{{NS}}}[{RATE}])) * 60", "{{reason}}")],
                ),
            ],
        ),
    ]


def component_rows(comp: Component) -> list[Row]:
    """The dashboard of one component: its HTTP traffic, runtime, database, peers and its own specifics."""
    app = f'application="{comp.name}"'
    job = f'job="{comp.name}"'
    rows = [
        Row("HTTP", _request_panels(app, "uri")),
        Row(
            "Responses",
            [
                Panel(
                    "Responses by status",
                    [
                        (
                            "sum by (status) (rate(http_server_requests_seconds_count"
                            f"{{{app}, {NS}, {NOT_ACTUATOR}}}[{RATE}]))",
                            "{{status}}",
                        )
                    ],
                    unit="reqps",
                    width=24,
                ),
            ],
        ),
        Row(
            "Process",
            [
                Panel(
                    "Process memory",
                    [
                        (f"process_resident_memory_bytes{{{job}, {NS}}}", "resident {{instance}}"),
                        (f"process_memory_limit_bytes{{{app}, {NS}}}", "limit {{instance}}"),
                    ],
                    unit="bytes",
                    description="HighRuntimeMemoryUsage fires above 85% of the limit for 5 minutes.",
                ),
                Panel(
                    "Process CPU",
                    [(f"rate(process_cpu_seconds_total{{{job}, {NS}}}[{RATE}])", "{{instance}}")],
                    unit="percentunit",
                ),
                Panel(
                    "Python GC collections",
                    [
                        (
                            f"sum by (generation) (rate(python_gc_collections_total{{{job}, {NS}}}[{RATE}]))",
                            "generation {{generation}}",
                        )
                    ],
                    unit="ops",
                ),
                Panel(
                    "Uptime",
                    [(f"time() - process_start_time_seconds{{{job}, {NS}}}", "{{instance}}")],
                    unit="s",
                    kind="stat",
                ),
            ],
        ),
    ]
    if comp.has_database:
        rows.append(Row("Database pool", _pool_panels(app)))
    rows.append(Row("Calls to peers", _peer_panels(app)))
    if comp.name == "service-discovery":
        rows.append(Row("Registry", _registry_panels()))
    if comp.name == "api-gateway":
        rows.extend(gateway_rows()[:1])
    return rows


def _pool_panels(selector: str) -> list[Panel]:
    by = "application, instance"
    return [
        Panel(
            "Pool connections",
            [
                (f"sum by ({by}) (db_pool_connections_active{{{selector}, {NS}}})", "active {{instance}}"),
                (f"sum by ({by}) (db_pool_connections_idle{{{selector}, {NS}}})", "idle {{instance}}"),
                (f"sum by ({by}) (db_pool_connections_max{{{selector}, {NS}}})", "max {{instance}}"),
            ],
        ),
        Panel(
            "Pool use and waiters",
            [
                (
                    f"db_pool_connections_active{{{selector}, {NS}}}"
                    f" / (db_pool_connections_max{{{selector}, {NS}}} > 0)",
                    "in use {{instance}}",
                ),
                (f"db_pool_connections_pending{{{selector}, {NS}}}", "waiting {{instance}}"),
            ],
            description="DatabaseConnectionPoolExhausted fires above 90% for 5 minutes.",
        ),
    ]


def _peer_panels(selector: str) -> list[Panel]:
    calls = f"http_client_requests_seconds_count{{{selector}, {NS}}}"
    bucket = f"http_client_requests_seconds_bucket{{{selector}, {NS}}}"
    return [
        Panel(
            "Calls per peer and outcome",
            [(f"sum by (peer, outcome) (rate({calls}[{RATE}]))", "{{peer}} {{outcome}}")],
            unit="reqps",
        ),
        Panel(
            "Peer latency p95",
            [(f"histogram_quantile(0.95, sum by (peer, le) (rate({bucket}[{RATE}])))", "{{peer}}")],
            unit="s",
        ),
        Panel(
            "Circuit breakers (0 closed, 1 open, 2 half-open)",
            [(f"max by (peer) (circuit_breaker_state{{{selector}, {NS}}})", "{{peer}}")],
            width=24,
        ),
    ]


def _registry_panels() -> list[Panel]:
    return [
        Panel(
            "Registered instances by application and status",
            [(f"sum by (app, status) (eureka_instances{{{NS}}})", "{{app}} {{status}}")],
        ),
        Panel(
            "Renewals and evictions per second",
            [
                (f"sum(rate(eureka_renewals_total{{{NS}}}[{RATE}]))", "renewals"),
                (f"sum(rate(eureka_evictions_total{{{NS}}}[{RATE}]))", "evictions"),
            ],
            unit="ops",
        ),
    ]


def gateway_rows() -> list[Row]:
    """The gateway per upstream: traffic, latency, retries, circuits, rate limits."""
    return [
        Row(
            "Upstreams",
            [
                Panel(
                    "Upstream requests by outcome",
                    [
                        (
                            f"sum by (upstream, outcome) (rate(gateway_upstream_requests_total{{{NS}}}[{RATE}]))",
                            "{{upstream}} {{outcome}}",
                        )
                    ],
                    unit="reqps",
                ),
                Panel(
                    "Upstream latency p95",
                    [
                        (
                            "histogram_quantile(0.95, sum by (upstream, le) "
                            f"(rate(gateway_upstream_request_seconds_bucket{{{NS}}}[{RATE}])))",
                            "{{upstream}}",
                        )
                    ],
                    unit="s",
                ),
                Panel(
                    "Retries per route",
                    [(f"sum by (route) (rate(gateway_retries_total{{{NS}}}[{RATE}]))", "{{route}}")],
                    unit="ops",
                ),
                Panel(
                    "Rate-limited requests per route",
                    [(f"sum by (route) (rate(gateway_rate_limited_total{{{NS}}}[{RATE}]))", "{{route}}")],
                    unit="reqps",
                ),
                Panel(
                    "Upstream circuits (0 closed, 1 open, 2 half-open)",
                    [(f"max by (upstream) (gateway_circuit_state{{{NS}}})", "{{upstream}}")],
                    width=24,
                ),
            ],
        ),
        Row("Edge traffic", _request_panels('application="api-gateway"', "uri")),
    ]


def database_rows() -> list[Row]:
    """Every service's pool side by side, and the PostgreSQL container."""
    pods = f'container="postgres", {NS}'
    return [
        Row("Pools", _pool_panels('application=~".+"')),
        Row(
            "PostgreSQL container",
            [
                Panel(
                    "Memory working set",
                    [
                        (
                            "max by (pod) (container_memory_working_set_bytes"
                            f'{{container!="", container!="POD", {pods}}})',
                            "{{pod}}",
                        )
                    ],
                    unit="bytes",
                ),
                Panel(
                    "CPU",
                    [
                        (
                            "sum by (pod) (rate(container_cpu_usage_seconds_total"
                            f'{{container!="", container!="POD", {pods}}}[{RATE}]))',
                            "{{pod}}",
                        )
                    ],
                    unit="percentunit",
                ),
                Panel(
                    "Restarts in the last hour",
                    [(f"sum by (pod) (increase(kube_pod_container_status_restarts_total{{{pods}}}[1h]))", "{{pod}}")],
                    kind="stat",
                    width=24,
                    height=5,
                ),
            ],
        ),
    ]


def business_rows() -> list[Row]:
    """What the shop sells: orders, revenue, checkouts, payments, sign-ins, stock."""
    return [
        Row(
            "Sales",
            [
                Panel(
                    "Orders created (last 24h)",
                    [(f"sum(increase(shop_orders_created_total{{{NS}}}[24h]))", "orders")],
                    kind="stat",
                    width=8,
                    height=5,
                ),
                Panel(
                    "Revenue (last 24h)",
                    [(f"sum(increase(shop_revenue_total{{{NS}}}[24h]))", "revenue")],
                    kind="stat",
                    unit="currencyUSD",
                    width=8,
                    height=5,
                ),
                Panel(
                    "Average order value (last 24h)",
                    [
                        (
                            f"sum(increase(shop_revenue_total{{{NS}}}[24h])) / "
                            f"sum(increase(shop_orders_created_total{{{NS}}}[24h]))",
                            "value",
                        )
                    ],
                    kind="stat",
                    unit="currencyUSD",
                    width=8,
                    height=5,
                ),
                Panel(
                    "Orders per minute",
                    [(f"sum(rate(shop_orders_created_total{{{NS}}}[{RATE}])) * 60", "orders")],
                ),
                Panel(
                    "Revenue per hour",
                    [(f"sum(rate(shop_revenue_total{{{NS}}}[{RATE}])) * 3600", "revenue")],
                    unit="currencyUSD",
                ),
            ],
        ),
        Row(
            "Checkout",
            [
                Panel(
                    "Failed checkouts per minute by reason",
                    [(f"sum by (reason) (rate(shop_checkouts_failed_total{{{NS}}}[{RATE}])) * 60", "{{reason}}")],
                ),
                Panel(
                    "Checkout failure share",
                    [
                        (
                            f"sum(rate(shop_checkouts_failed_total{{{NS}}}[{RATE}])) / "
                            f"(sum(rate(shop_checkouts_failed_total{{{NS}}}[{RATE}])) "
                            f"+ sum(rate(shop_orders_created_total{{{NS}}}[{RATE}])))",
                            "failed",
                        )
                    ],
                    unit="percentunit",
                ),
                Panel(
                    "Stock reservations refused per minute",
                    [(f"sum(rate(shop_stock_reservations_refused_total{{{NS}}}[{RATE}])) * 60", "refused")],
                ),
                Panel(
                    "Payments per minute by outcome",
                    [(f"sum by (outcome) (rate(shop_payments_total{{{NS}}}[{RATE}])) * 60", "{{outcome}}")],
                ),
            ],
        ),
        Row(
            "Customers",
            [
                Panel(
                    "Sign-ins per minute by outcome",
                    [(f"sum by (outcome) (rate(shop_signins_total{{{NS}}}[{RATE}])) * 60", "{{outcome}}")],
                    width=24,
                ),
            ],
        ),
    ]


def slo_rows() -> list[Row]:
    """Every objective: budget left, burn rate and the error ratio per window."""
    rows = []
    for slo_file in SLO_FILES:
        for obj in slo_file.objectives:
            sel = f'slo="{obj.slo}", {NS}'
            rows.append(
                Row(
                    f"{obj.slo}: {obj.description}",
                    [
                        Panel(
                            "Error budget left (30 days)",
                            [(f"slo:error_budget_remaining:ratio{{{sel}}}", "{{namespace}}")],
                            kind="stat",
                            unit="percentunit",
                            width=8,
                        ),
                        Panel(
                            "Burn rate (1h, 6h, 3d)",
                            [
                                (
                                    f"slo:sli_error:ratio_rate{window}{{{sel}}} / {obj.budget}",
                                    f"{window} {{{{namespace}}}}",
                                )
                                for window in ("1h", "6h", "3d")
                            ],
                            description="1 spends the budget exactly in 30 days; 14.4 over 1h pages.",
                            width=8,
                        ),
                        Panel(
                            "Share of bad requests",
                            [
                                (f"slo:sli_error:ratio_rate{window}{{{sel}}}", f"{window} {{{{namespace}}}}")
                                for window in ("5m", "1h", "1d")
                            ],
                            unit="percentunit",
                            width=8,
                        ),
                    ],
                )
            )
    return rows


def dashboards() -> dict[str, dashboard_models.Dashboard]:
    """Every dashboard by file name."""
    result = {
        "shop-overview.json": _dashboard("shop-overview", "Shop overview", overview(), ["overview"]),
        "api-gateway.json": _dashboard("api-gateway", "API gateway", gateway_rows(), ["gateway"]),
        "database-pools.json": _dashboard("database-pools", "Database and pools", database_rows(), ["database"]),
        "business-kpis.json": _dashboard("business-kpis", "Business KPIs", business_rows(), ["business"]),
        "slo.json": _dashboard("slo", "Service level objectives", slo_rows(), ["slo"]),
    }
    for comp in COMPONENTS:
        uid = f"component-{comp.name}"
        result[f"{uid}.json"] = _dashboard(uid, f"Component: {comp.name}", component_rows(comp), ["component"])
    return result


def _dashboard(uid: str, title: str, rows: Iterable[Row], tags: list[str]) -> dashboard.Dashboard:
    # The layout stays ours (a panel that would overflow the row's 24 columns starts a new line, every row is
    # open): the builder's own flow only wraps after a panel has overflowed. Every position is given explicitly.
    board = (
        dashboard.Dashboard(title)
        .uid(uid)
        .tags(["ecommerce", *tags])
        .timezone("browser")
        .version(1)
        .editable()
        .refresh("30s")
        .time("now-1h", "now")
        .link(dashboard.DashboardLink("Shop dashboards").type("dashboards").tags(["ecommerce"]).as_dropdown(True))
        .with_variable(dashboard.DatasourceVariable("datasource").label("Prometheus").type("prometheus"))
        .with_variable(_namespace_variable())
    )
    next_id = 1
    y = 0
    for row in rows:
        board.with_row(dashboard.Row(row.title).id(next_id).grid_pos(_grid(0, y, 24, 1)))
        next_id += 1
        y += 1
        x = 0
        row_height = 0
        for panel in row.panels:
            if x + panel.width > 24:
                x, y = 0, y + row_height
                row_height = 0
            board.with_panel(_panel(panel, next_id, _grid(x, y, panel.width, panel.height)))
            next_id += 1
            x += panel.width
            row_height = max(row_height, panel.height)
        y += row_height
    return board.build()


def _grid(x: int, y: int, w: int, h: int) -> dashboard_models.GridPos:
    return dashboard_models.GridPos(h=h, w=w, x=x, y=y)


def _panel(panel: Panel, panel_id: int, grid: dashboard_models.GridPos) -> timeseries.Panel | stat.Panel:
    built: timeseries.Panel | stat.Panel
    if panel.kind == "stat":
        built = (
            stat.Panel()
            .reduce_options(common.ReduceDataOptions().calcs(["lastNotNull"]).fields("").values(False))
            .color_mode(common_models.BigValueColorMode.VALUE)
        )
    else:
        built = (
            timeseries.Panel()
            .legend(
                common.VizLegendOptions()
                .display_mode(common_models.LegendDisplayMode.LIST)
                .placement(common_models.LegendPlacement.BOTTOM)
                .show_legend(True)
            )
            .tooltip(common.VizTooltipOptions().mode(common_models.TooltipDisplayMode.MULTI))
        )
    built.id(panel_id).title(panel.title).datasource(DATASOURCE).grid_pos(grid).unit(panel.unit)
    for i, (expr, legend) in enumerate(panel.targets):
        built.with_target(
            prometheus.Dataquery().ref_id(chr(ord("A") + i)).datasource(DATASOURCE).expr(expr).legend_format(legend)
        )
    if panel.description:
        built.description(panel.description)
    return built


def _namespace_variable() -> dashboard.QueryVariable:
    query = f'label_values(up{{job=~"{JOBS_REGEX}"}}, namespace)'
    return (
        dashboard.QueryVariable("namespace")
        .label("Namespace")
        .datasource(DATASOURCE)
        .query({"query": query, "refId": "namespace"})
        .include_all(True)
        .all_value(".*")
        .multi(True)
        .refresh(dashboard_models.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .current(dashboard_models.VariableOption(selected=True, text="All", value="$__all"))
    )


def render() -> dict[str, str]:
    """The JSON text of every dashboard by file name."""
    encoder = JSONEncoder(indent=2, sort_keys=True)
    return {name: encoder.encode(board) + "\n" for name, board in dashboards().items()}


def main(argv: list[str]) -> int:
    """Write every dashboard, or with --check list the files that differ (or are stale)."""
    check = "--check" in argv
    texts = render()
    stale = []
    for name, text in texts.items():
        path = OUT_DIR / name
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(path)
        else:
            path.write_text(text)
    extra = {p.name for p in OUT_DIR.glob("*.json")} - set(texts)
    stale += [OUT_DIR / name for name in sorted(extra)]
    for path in stale:
        print(f"out of date: {path}", file=sys.stderr)
    return 1 if check and stale else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

"""The Grafana dashboards: generated from one template, every query parses and uses only metrics that exist."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from monitoring_support import CONTRACT_METRICS, MONITORING, STANDARD_METRICS, metric_names, recorded_metrics, run

from monitoring.catalog import COMPONENT_NAMES
from monitoring.dashboards import generate

DASHBOARD_DIR = MONITORING / "dashboards"
REQUIRED = {"shop-overview", "api-gateway", "database-pools", "business-kpis", "slo"} | {
    f"component-{name}" for name in COMPONENT_NAMES
}
# Grafana's variables, replaced by what they expand to so promtool can parse the query.
VARIABLES = {"$__rate_interval": "5m", "$__range": "1h", "$namespace": ".*"}


def _boards() -> dict[str, dict]:
    return {path.stem: json.loads(path.read_text()) for path in sorted(DASHBOARD_DIR.glob("*.json"))}


def _exprs() -> list[tuple[str, str, str]]:
    found = []
    for name, board in _boards().items():
        for panel in board["panels"]:
            for target in panel.get("targets", []):
                found.append((name, panel["title"], target["expr"]))
    return found


def _expand(expr: str) -> str:
    for variable, value in VARIABLES.items():
        expr = expr.replace(variable, value)
    return expr


def test_the_committed_json_is_what_the_generator_writes() -> None:
    rendered = generate.render()
    committed = {path.name: path.read_text() for path in DASHBOARD_DIR.glob("*.json")}
    assert set(committed) == set(rendered), "run python -m monitoring.dashboards.generate"
    for name, text in rendered.items():
        assert committed[name] == text, f"{name} drifted: run python -m monitoring.dashboards.generate"


def test_every_required_dashboard_exists_with_a_unique_uid() -> None:
    boards = _boards()
    assert set(boards) == REQUIRED
    uids = [board["uid"] for board in boards.values()]
    assert len(uids) == len(set(uids))
    for name, board in boards.items():
        assert board["uid"] == name and len(board["uid"]) <= 40
        ids = [panel["id"] for panel in board["panels"]]
        assert len(ids) == len(set(ids)), name


def test_every_panel_queries_prometheus_and_fits_the_grid() -> None:
    for name, board in _boards().items():
        for panel in board["panels"]:
            grid = panel["gridPos"]
            assert 0 <= grid["x"] and grid["x"] + grid["w"] <= 24, (name, panel["title"])
            if panel["type"] == "row":
                continue
            assert panel["targets"], (name, panel["title"])
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}


def test_every_dashboard_query_parses(promtool: str, tmp_path: Path) -> None:
    exprs = _exprs()
    assert len(exprs) > 100
    rules = [{"record": f"dashboard:query_{i}:check", "expr": _expand(expr)} for i, (_, _, expr) in enumerate(exprs)]
    path = tmp_path / "dashboard-queries.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    result = run(promtool, "check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_parse_check_catches_a_broken_query(promtool: str, tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    rule = {"record": "dashboard:broken", "expr": "sum(rate(http_server_requests_seconds_count[5m])"}
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": [rule]}]}))
    assert run(promtool, "check", "rules", str(path)).returncode != 0


def test_dashboards_use_only_metrics_that_exist() -> None:
    known = CONTRACT_METRICS | STANDARD_METRICS | recorded_metrics()
    unknown = {
        (board, title, name) for board, title, expr in _exprs() for name in metric_names(expr) if name not in known
    }
    assert unknown == set()


def test_alert_rules_use_only_metrics_that_exist() -> None:
    known = CONTRACT_METRICS | STANDARD_METRICS | recorded_metrics()
    for path in (MONITORING / "rules").glob("*.yaml"):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                assert metric_names(rule["expr"]) <= known, (path.name, rule.get("alert") or rule.get("record"))


def test_the_metric_name_extractor() -> None:
    expr = (
        'histogram_quantile(0.95, sum by (le, application) (rate(http_server_requests_seconds_bucket{uri!~".*"}[5m])))'
        " / on (job) group_left (application) process_memory_limit_bytes > 0.9 and up offset 5m"
    )
    assert metric_names(expr) == {"http_server_requests_seconds_bucket", "process_memory_limit_bytes", "up"}
    assert metric_names("sum(rate(jvm_memory_used_bytes[5m]))") == {"jvm_memory_used_bytes"}


def test_every_component_dashboard_covers_its_component() -> None:
    boards = _boards()
    for name in COMPONENT_NAMES:
        exprs = [t["expr"] for p in boards[f"component-{name}"]["panels"] for t in p.get("targets", [])]
        assert any(f'application="{name}"' in e for e in exprs)
        assert any(f'job="{name}"' in e and "process_resident_memory_bytes" in e for e in exprs)

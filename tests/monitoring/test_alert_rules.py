"""The alert and SLO rules: promtool checks and unit tests, names, labels, annotations and runbooks."""

from __future__ import annotations

from pathlib import Path

import yaml
from monitoring_support import MONITORING, ROOT, run

from monitoring import catalog, slo

RULES = sorted((MONITORING / "rules").glob("*.yaml"))
RULE_TESTS = sorted((MONITORING / "tests").glob("*.test.yaml"))
MANUAL_ALERTS = {
    "ServiceDown",
    "HighErrorRate",
    "HighResponseTime",
    "HighMemoryUsage",
    "HighCPUUsage",
    "DatabaseConnectionPoolExhausted",
    "HighRuntimeMemoryUsage",  # in place of the manual's HighJVMHeapUsage: there is no JVM
    "HighRequestRate",
    "PodRestartingFrequently",
}
SEVERITIES = {"critical", "warning", "info"}


def _alert_rules(path: Path) -> list[dict]:
    groups = yaml.safe_load(path.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def test_promtool_check_rules_is_clean(promtool: str) -> None:
    result = run(promtool, "check", "rules", *map(str, RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stdout + result.stderr


def test_promtool_unit_tests_pass(promtool: str) -> None:
    assert RULE_TESTS, "no promtool unit tests found"
    result = run(promtool, "test", "rules", *map(str, RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_can_fail(promtool: str, tmp_path: Path) -> None:
    """A wrong expectation must make promtool fail, or the suite above proves nothing."""
    source = MONITORING / "tests" / "ecommerce-alerts.test.yaml"
    broken = tmp_path / "broken.test.yaml"
    text = source.read_text().replace("../rules/", f"{MONITORING}/rules/")
    broken.write_text(text.replace("summary: product-service is down", "summary: product-service is fine"))
    result = run(promtool, "test", "rules", str(broken))
    assert result.returncode != 0
    assert "ServiceDown" in result.stdout + result.stderr


def test_the_manuals_alerts_exist_under_their_names() -> None:
    names = {rule["alert"] for rule in _alert_rules(MONITORING / "rules" / "ecommerce-alerts.yaml")}
    assert names == MANUAL_ALERTS


def test_every_alert_has_severity_english_annotations_and_its_runbook() -> None:
    for path in RULES:
        for rule in _alert_rules(path):
            name = rule["alert"]
            assert rule["labels"]["severity"] in SEVERITIES, name
            annotations = rule["annotations"]
            assert set(annotations) >= {"summary", "description", "runbook_url"}, name
            assert annotations["runbook_url"] == catalog.runbook_url(name)
            runbook = ROOT / "docs" / "runbooks" / f"{name}.md"
            assert runbook.is_file(), f"missing runbook {runbook}"
            assert runbook.read_text().startswith(f"# {name}"), runbook


def test_every_alert_is_unit_tested_firing_and_quiet() -> None:
    fired: set[str] = set()
    quiet: set[str] = set()
    for path in RULE_TESTS:
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                (fired if check.get("exp_alerts") else quiet).add(check["alertname"])
    alerts = {rule["alert"] for path in RULES for rule in _alert_rules(path)}
    assert alerts - fired == set(), "alerts never shown firing"
    assert alerts - quiet == set(), "alerts never shown quiet"


def test_runbooks_belong_to_alerts() -> None:
    alerts = {rule["alert"] for path in RULES for rule in _alert_rules(path)}
    runbooks = {p.stem for p in (ROOT / "docs" / "runbooks").glob("*.md") if p.stem != "README"}
    assert runbooks == alerts


def test_slo_rules_are_generated_from_monitoring_slo() -> None:
    for slo_file in slo.SLO_FILES:
        path = MONITORING / "rules" / f"slo-{slo_file.name}.yaml"
        assert path.read_text() == slo.render(slo_file), f"{path} drifted: run python -m monitoring.slo"


def test_slos_cover_gateway_and_checkout_availability_and_latency() -> None:
    objectives = {obj.slo: obj for slo_file in slo.SLO_FILES for obj in slo_file.objectives}
    assert set(objectives) == {
        "api-gateway-availability",
        "api-gateway-latency",
        "checkout-availability",
        "checkout-latency",
    }
    assert 'uri="/order-service/api/orders/checkout"' in objectives["checkout-latency"].selector

"""The observability stack's Helm values: Grafana provisioning, selectors, Loki + Alloy logs, Jaeger with OTLP."""

from __future__ import annotations

import re

import yaml
from monitoring_support import MONITORING

from monitoring.catalog import COMPONENT_NAMES

STACK = MONITORING / "stack"


def _values(name: str) -> dict:
    return yaml.safe_load((STACK / name).read_text())


def test_kube_prometheus_stack_matches_the_manuals_names_and_finds_our_objects() -> None:
    values = _values("kube-prometheus-stack-values.yaml")
    assert values["fullnameOverride"] == "kube-prometheus-stack"  # svc/kube-prometheus-stack-prometheus
    assert values["grafana"]["fullnameOverride"] == "kube-prometheus-stack-grafana"
    assert values["grafana"]["adminPassword"] == ""  # generated, never committed
    spec = values["prometheus"]["prometheusSpec"]
    for kind in ("serviceMonitor", "podMonitor", "rule"):
        assert spec[f"{kind}SelectorNilUsesHelmValues"] is False
        assert spec[f"{kind}Selector"] == {} and spec[f"{kind}NamespaceSelector"] == {}


def test_grafana_sidecar_loads_labelled_dashboards_and_links_logs_and_traces() -> None:
    grafana = _values("kube-prometheus-stack-values.yaml")["grafana"]
    dashboards = grafana["sidecar"]["dashboards"]
    assert dashboards["enabled"] is True
    assert (dashboards["label"], dashboards["labelValue"]) == ("grafana_dashboard", "1")
    sources = {source["uid"]: source for source in grafana["additionalDataSources"]}
    assert sources["loki"]["url"] == "http://loki-gateway.monitoring.svc"
    assert sources["jaeger"]["url"] == "http://jaeger-query.monitoring.svc:16686"
    derived = sources["loki"]["jsonData"]["derivedFields"][0]
    assert derived["datasourceUid"] == "jaeger"
    line = '{"level": "info", "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "span_id": "00f067aa0ba902b7"}'
    assert re.search(derived["matcherRegex"], line).group(1) == "4bf92f3577b34da6a3ce929d0e0e4736"


def test_loki_is_a_single_binary_accepting_structured_metadata() -> None:
    values = _values("loki-values.yaml")
    assert values["deploymentMode"] == "SingleBinary"
    assert values["loki"]["limits_config"]["allow_structured_metadata"] is True
    assert values["loki"]["schemaConfig"]["configs"][0]["schema"] == "v13"
    assert values["gateway"]["enabled"] is True


def test_alloy_collects_our_containers_and_parses_trace_ids() -> None:
    content = _values("alloy-values.yaml")["alloy"]["configMap"]["content"]
    keep = re.search(r'regex\s*=\s*"([^"]+)"\s*\n\s*action\s*=\s*"keep"', content)
    assert keep and set(keep.group(1).split("|")) == set(COMPONENT_NAMES) | {"postgres"}
    json_stage = re.search(r"stage\.json \{(.*?)\n  \}", content, re.S)
    assert json_stage
    for key in ("timestamp", "level", "service", "request_id", "trace_id", "span_id"):
        assert f'"{key}"' in json_stage.group(1)
    metadata = re.search(r"stage\.structured_metadata \{(.*?)\n  \}", content, re.S)
    assert metadata and "trace_id" in metadata.group(1) and "span_id" in metadata.group(1)
    assert 'url = "http://loki-gateway.monitoring.svc/loki/api/v1/push"' in content
    assert content.count("{") == content.count("}")


def test_jaeger_is_all_in_one_with_otlp() -> None:
    values = _values("jaeger-values.yaml")
    assert values["allInOne"]["enabled"] is True
    assert {"name": "COLLECTOR_OTLP_ENABLED", "value": "true"} in values["allInOne"]["extraEnv"]
    assert values["storage"]["type"] == "memory"
    for part in ("agent", "collector", "query"):
        assert values[part]["enabled"] is False
    assert values["provisionDataStore"]["cassandra"] is False

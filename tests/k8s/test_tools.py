"""The real tools over the chart, the rendered objects, k8s/, the Dockerfile and the scripts."""

from __future__ import annotations

import filecmp
import functools
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import kubernetes_validate
import kubernetes_validate.utils
import pytest
import yaml

from .conftest import CHART, CHECKOV, ENVIRONMENTS, NODE_MODULES, ROOT, Doc, helm_template, load_docs, missing_tool, run

CRD_GROUPS = ("keda.sh", "monitoring.coreos.com", "cert-manager.io")
KUBERNETES_VERSIONS = ("1.29.0", "1.37.0")

# checkov checks skipped for the whole chart, each with its reason (docs/kubernetes.md repeats them).
CHECKOV_SKIPS = {
    "CKV_K8S_43": "image digests are a deploy-time value (image.digest pins one and wins over the tag); the "
    "development image is built locally and has no registry digest",
    "CKV_K8S_15": "imagePullPolicy IfNotPresent is right for immutable tags and digests, and Always breaks images "
    "loaded into kind or minikube",
    "CKV_K8S_35": "the contract composes DATABASE_URL from secret-sourced DATABASE_USERNAME/DATABASE_PASSWORD "
    "environment variables with $(VAR) expansion, and the postgres image reads POSTGRES_PASSWORD",
}
YAMLLINT_CONFIG = (
    '{extends: default, rules: {line-length: {max: 180, ignore: ["k8s/monitoring/"]}, '
    "document-start: disable, truthy: {check-keys: false}}}"
)


def is_crd(doc: Doc) -> bool:
    return doc["apiVersion"].split("/")[0] in CRD_GROUPS


@pytest.mark.parametrize("helm_name", ["helm3", "helm4"])
@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_helm_lint_strict(request: pytest.FixtureRequest, helm_name: str, env: str) -> None:
    helm = request.getfixturevalue(helm_name)
    result = run(
        [helm, "lint", "--strict", str(CHART), "--namespace", env, "--values", str(CHART / f"values-{env}.yaml")]
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chart(s) failed" in result.stdout


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_helm3_and_helm4_render_the_same_objects(helm3: str, rendered: dict[str, list[Doc]], env: str) -> None:
    def comparable(docs: list[Doc]) -> list[str]:
        out = []
        for doc in docs:
            doc = json.loads(json.dumps(doc))
            if doc["kind"] == "Secret":
                doc["stringData"] = sorted(doc.get("stringData", {}))  # generated values differ per render
            doc.get("spec", {}).get("template", {}).get("metadata", {}).get("annotations", {}).pop(
                "checksum/config", None
            )
            out.append(json.dumps(doc, sort_keys=True))
        return sorted(out)

    assert comparable(load_docs(helm_template(helm3, env))) == comparable(rendered[env])


def test_helm_rejects_values_the_schema_forbids(helm4: str) -> None:
    result = run([helm4, "template", "x", str(CHART), "--set", "components.user-service.autoscaling.mode=both"])
    assert result.returncode != 0
    assert "autoscaling/mode" in result.stderr
    result = run([helm4, "template", "x", str(CHART), "--set", "no-such-key=1"])
    assert result.returncode != 0


def test_the_component_tables_facts_cannot_be_overridden_by_values(helm4: str) -> None:
    """Port, tier, actuator base and database names come from files/components.yaml (the component table) only."""
    for key in ("port=1", "tier=business", "actuatorBase=/x", "database.name=x"):
        result = run([helm4, "template", "x", str(CHART), "--set", f"components.user-service.{key}"])
        assert result.returncode != 0, key
        assert "additional properties" in result.stderr


@pytest.fixture
def cached_schemas(monkeypatch: pytest.MonkeyPatch) -> None:
    """kubernetes-validate reads its large definitions file for every object; read each schema file once."""
    monkeypatch.setattr(kubernetes_validate.utils, "schema_contents", _schema_contents)


_schema_contents = functools.lru_cache(maxsize=None)(kubernetes_validate.utils.schema_contents)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_kubernetes_validate_strict_on_every_built_in_object(
    rendered: dict[str, list[Doc]], version: str, cached_schemas: None
) -> None:
    failures = []
    count = 0
    for env, docs in rendered.items():
        for doc in docs:
            if is_crd(doc):
                continue
            count += 1
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except (kubernetes_validate.ValidationError, kubernetes_validate.SchemaNotFoundError) as error:
                failures.append(f"{env} {doc['kind']}/{doc['metadata']['name']}: {getattr(error, 'message', error)}")
    assert count > 100
    assert not failures


def test_kubernetes_validate_cli_on_the_manifests() -> None:
    files = sorted(str(p) for p in (ROOT / "k8s").rglob("*.yaml"))
    for version in KUBERNETES_VERSIONS[:1]:  # the newest is covered object by object above
        result = run([str(ROOT / ".venv" / "bin" / "kubernetes-validate"), "--strict", "-k", version, *files])
        assert result.returncode == 0, result.stdout + result.stderr
        # Only the custom resources (checked by the node models below) may be skipped.
        for line in (result.stdout + result.stderr).splitlines():
            if "WARN" in line:
                assert any(kind in line for kind in ("ScaledObject", "ServiceMonitor", "PrometheusRule", "Issuer")), (
                    line
                )


def test_kubernetes_validate_catches_a_typo() -> None:
    """The validator really runs strict: an unknown field fails."""
    bad = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "x"},
        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "x"}, "maxReplicas": 2, "minReplica": 1},
    }
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, "1.29.0", strict=True)


def test_custom_resources_match_their_schemas(rendered: dict[str, list[Doc]]) -> None:
    node = shutil.which("node")
    if node is None or not NODE_MODULES.is_dir():
        missing_tool("node and the @kubernetes-models packages")
    crds = [doc for docs in rendered.values() for doc in docs if is_crd(doc)]
    kinds = {doc["kind"] for doc in crds}
    assert {"ScaledObject", "ServiceMonitor", "PrometheusRule", "Issuer"} <= kinds
    script = str(Path(__file__).with_name("validate_crds.mjs"))
    result = run([node, script, str(NODE_MODULES)], input=json.dumps(crds))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("OK ") == len(crds)
    broken = json.loads(json.dumps(next(d for d in crds if d["kind"] == "ScaledObject")))
    broken["spec"]["minReplicaCount"] = "two"
    result = run([node, script, str(NODE_MODULES)], input=json.dumps([broken]))
    assert result.returncode == 1 and "minReplicaCount" in result.stdout


def test_yamllint() -> None:
    targets = ["k8s", "docker-compose.yml", *(str(p.relative_to(ROOT)) for p in CHART.glob("*.yaml"))]
    result = run([str(ROOT / ".venv" / "bin" / "yamllint"), "-s", "-d", YAMLLINT_CONFIG, *targets], cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def checkov(*args: str) -> dict[str, int]:
    """Run checkov offline with the documented skips; fail on any failed check. Returns passed checks per framework."""
    if not CHECKOV.exists():
        missing_tool("checkov (.tools/checkov-venv)")
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "PATH": f"{ROOT / '.tools' / 'bin'}:{os.environ['PATH']}"}
    command = [str(CHECKOV), "--skip-download", "--compact", "--quiet", "-o", "json"]
    result = run([*command, "--skip-check", ",".join(CHECKOV_SKIPS), *args], env=env, cwd=ROOT)
    reports: list[dict[str, Any]] = []
    decoder, text, index = json.JSONDecoder(), result.stdout.strip(), 0
    while index < len(text):  # one JSON document per framework and directory, concatenated
        report, index = decoder.raw_decode(text, index)
        reports.extend(report if isinstance(report, list) else [report])
        index = len(text) - len(text[index:].lstrip())
    failed = [
        f"{f['check_id']} {f['resource']} {f['file_path']}" for r in reports for f in r["results"]["failed_checks"]
    ]
    assert result.returncode == 0 and not failed, "\n".join(failed) or result.stderr[-2000:]
    totals: dict[str, int] = {}
    for r in reports:
        totals[r["check_type"]] = totals.get(r["check_type"], 0) + r["summary"]["passed"]
    return totals


def test_checkov_on_the_manifests_and_every_environment(rendered_text: dict[str, str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for env, text in rendered_text.items():
            Path(tmp, f"{env}.yaml").write_text(text)
        summary = checkov("--framework", "kubernetes", "-d", "k8s", "-d", tmp)
    assert summary["kubernetes"] > 3000


def test_checkov_on_the_chart_and_the_dockerfile() -> None:
    # checkov's helm runner renders the chart itself; the prod values give it a namespace (CKV_K8S_21).
    chart = str(CHART.relative_to(ROOT))
    summary = checkov("--framework", "helm", "-d", chart, "--var-file", f"{chart}/values-prod.yaml")
    assert summary["helm"] > 500
    assert checkov("--framework", "dockerfile", "-f", "Dockerfile")["dockerfile"] > 10


def test_hadolint() -> None:
    hadolint = ROOT / ".venv" / "bin" / "hadolint"
    if not hadolint.exists():
        missing_tool("hadolint")
    result = run([str(hadolint), "--failure-threshold", "info", str(ROOT / "Dockerfile")])
    assert result.returncode == 0, result.stdout + result.stderr


def test_shellcheck() -> None:
    shellcheck = ROOT / ".venv" / "bin" / "shellcheck"
    if not shellcheck.exists():
        missing_tool("shellcheck")
    scripts = [
        "scripts/render-k8s.sh",
        "scripts/e2e-kind.sh",
        "tools/install-kube.sh",
        "helm-charts/ecommerce-microservices/files/postgres/init-databases.sh",
    ]
    result = run([str(shellcheck), "-x", *scripts], cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_k8s_manifests_are_the_rendered_chart() -> None:
    """k8s/ is generated: fails when someone edits it by hand or changes the chart without re-rendering."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "k8s"
        result = subprocess.run(
            ["bash", str(ROOT / "scripts" / "render-k8s.sh"), "--render-only"],
            env={**os.environ, "K8S_OUT": str(out)},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        expected = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
        actual = sorted(p.relative_to(ROOT / "k8s").as_posix() for p in (ROOT / "k8s").rglob("*") if p.is_file())
        assert actual == expected, "k8s/ has different files: run scripts/render-k8s.sh"
        drifted = [f for f in expected if not filecmp.cmp(out / f, ROOT / "k8s" / f, shallow=False)]
        assert not drifted, f"k8s/ drifted from the chart: run scripts/render-k8s.sh ({drifted})"


@pytest.mark.parametrize(
    ("source", "copy", "pattern"),
    [
        ("monitoring/rules", "files/rules", "*.yaml"),
        ("monitoring/dashboards", "files/dashboards", "*.json"),
        ("config-repo", "files/config-repo", "*"),
    ],
)
def test_chart_copies_of_rules_dashboards_and_config_repo_are_current(source: str, copy: str, pattern: str) -> None:
    """The chart carries copies (Helm reads nothing outside it); scripts/render-k8s.sh refreshes them."""
    originals = {p.name: p for p in (ROOT / source).glob(pattern) if p.is_file()} if (ROOT / source).is_dir() else {}
    copies = {p.name: p for p in (CHART / copy).glob(pattern) if p.is_file() and p.name != ".gitkeep"}
    assert sorted(copies) == sorted(originals), f"{copy} differs from {source}: run scripts/render-k8s.sh"
    stale = [name for name in originals if originals[name].read_bytes() != copies[name].read_bytes()]
    assert not stale, f"{copy} is stale for {stale}: run scripts/render-k8s.sh"


def test_manual_file_paths_exist() -> None:
    """Every file the operations manual applies (sections 2.1, 2.2, 6.4, 8.4) is there."""
    k8s = ROOT / "k8s"
    paths = [
        "namespaces/namespaces.yaml",
        "storage/storage-class.yaml",
        "storage/backup-pvc.yaml",
        "databases/postgres-secret.yaml",
        "databases/postgres-init-scripts.yaml",
        "databases/postgres-statefulset.yaml",
        "config/service-discovery-configmap.yaml",
        "config/cloud-config-server-configmap.yaml",
        "config/api-gateway-configmap.yaml",
        "config/proxy-client-eureka-configmap.yaml",
        "ingress/ingress-tls.yaml",
        "rbac/rbac-complete.yaml",
    ]
    for service in (
        "user-service",
        "product-service",
        "favourite-service",
        "order-service",
        "shipping-service",
        "payment-service",
    ):
        paths += [f"config/{service}-configmap.yaml", f"secrets/{service}-secret.yaml"]
    for component in (
        "service-discovery",
        "cloud-config-server",
        "api-gateway",
        "proxy-client",
        "user-service",
        "product-service",
        "favourite-service",
        "order-service",
        "shipping-service",
        "payment-service",
    ):
        paths.append(f"services/{component}/deployment.yaml")
    missing = [p for p in paths if not (k8s / p).is_file()]
    assert not missing
    for directory in ("network-policies", "autoscaling", "backups", "monitoring"):
        assert list((k8s / directory).glob("*.yaml")), directory
    for secret in (k8s / "secrets").glob("*.yaml"):
        assert "DEVELOPMENT" in secret.read_text().splitlines()[1]


def test_each_manual_step_is_self_contained() -> None:
    """Section 2.1 applies the files in order and waits for pods: what each step's pods need must exist by then."""
    k8s = ROOT / "k8s"
    applied: set[tuple[str, str]] = set()

    def apply(*rels: str) -> list[Doc]:
        docs = [d for rel in rels for d in yaml.safe_load_all((k8s / rel).read_text()) if d]
        applied.update((d["kind"], d["metadata"]["name"]) for d in docs)
        return docs

    def check_pods_can_start(docs: list[Doc]) -> None:
        for doc in docs:
            if doc["kind"] not in ("Deployment", "StatefulSet"):
                continue
            spec = doc["spec"]["template"]["spec"]
            needs = {("ServiceAccount", spec["serviceAccountName"])}
            for volume in spec.get("volumes", []):
                if "configMap" in volume:
                    needs.add(("ConfigMap", volume["configMap"]["name"]))
                if "secret" in volume:
                    needs.add(("Secret", volume["secret"]["secretName"]))
                if "persistentVolumeClaim" in volume:
                    needs.add(("PersistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"]))
            for container in spec["containers"] + spec.get("initContainers", []):
                for source in container.get("envFrom", []):
                    needs.add(("ConfigMap", source["configMapRef"]["name"]))
                for env in container.get("env", []):
                    ref = env.get("valueFrom", {}).get("secretKeyRef")
                    if ref:
                        needs.add(("Secret", ref["name"]))
            missing = needs - applied
            assert not missing, f"{doc['kind']}/{doc['metadata']['name']} would wait for {missing}"

    apply("namespaces/namespaces.yaml", "storage/storage-class.yaml", "storage/backup-pvc.yaml")
    apply("databases/postgres-secret.yaml", "secrets/identity-secret.yaml", "databases/postgres-init-scripts.yaml")
    check_pods_can_start(apply("databases/postgres-statefulset.yaml"))
    apply("config/service-discovery-configmap.yaml")
    check_pods_can_start(apply("services/service-discovery/deployment.yaml"))
    apply("config/cloud-config-server-configmap.yaml")
    check_pods_can_start(apply("services/cloud-config-server/deployment.yaml"))
    for service in (
        "user-service",
        "product-service",
        "favourite-service",
        "order-service",
        "shipping-service",
        "payment-service",
    ):
        apply(f"config/{service}-configmap.yaml", f"secrets/{service}-secret.yaml")
        check_pods_can_start(apply(f"services/{service}/deployment.yaml"))
    apply("config/api-gateway-configmap.yaml")
    check_pods_can_start(apply("services/api-gateway/deployment.yaml"))
    apply("config/proxy-client-eureka-configmap.yaml")
    check_pods_can_start(apply("services/proxy-client/deployment.yaml"))

"""Fixtures for the Kubernetes checks: the tools in .tools/, and the chart rendered once per environment."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm-charts" / "ecommerce-microservices"
TOOLS_BIN = ROOT / ".tools" / "bin"
NODE_MODULES = ROOT / ".tools" / "node" / "node_modules"
CHECKOV = ROOT / ".tools" / "checkov-venv" / "bin" / "checkov"
ENVIRONMENTS = ("dev", "qa", "prod")

COMPONENTS = {
    # name: (port, actuator base)
    "service-discovery": (8761, "/actuator"),
    "cloud-config-server": (9296, "/actuator"),
    "api-gateway": (8080, "/actuator"),
    "proxy-client": (8900, "/app/actuator"),
    "order-service": (8300, "/order-service/actuator"),
    "payment-service": (8400, "/payment-service/actuator"),
    "product-service": (8500, "/product-service/actuator"),
    "shipping-service": (8600, "/shipping-service/actuator"),
    "user-service": (8700, "/user-service/actuator"),
    "favourite-service": (8800, "/favourite-service/actuator"),
}
BUSINESS = (
    "user-service",
    "product-service",
    "favourite-service",
    "order-service",
    "shipping-service",
    "payment-service",
)

Doc = dict[str, Any]


def missing_tool(what: str) -> None:
    """A tool the check needs is absent: fail in CI, skip elsewhere."""
    message = f"{what} is missing: run `bash tools/install-kube.sh`"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def tool(name: str) -> str:
    for candidate in (TOOLS_BIN / name, ROOT / ".venv" / "bin" / name):
        if candidate.exists():
            return str(candidate)
    found = shutil.which(name)
    if found is None:
        missing_tool(name)
    return str(found)


def run(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    kwargs.setdefault("env", {**os.environ, "KUBECONFIG": "/nonexistent", "HELM_CACHE_HOME": "/tmp/helm-cache"})
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False, **kwargs)


def helm_template(helm: str, env: str, *extra: str, environ: dict[str, str] | None = None) -> str:
    """The chart rendered for `env` (its values file), `extra` flags added; `environ` replaces helm's environment."""
    values = str(CHART / f"values-{env}.yaml")
    command = [helm, "template", "ecommerce", str(CHART), "--namespace", env, "--values", values, *extra]
    result = run(command, **({"env": environ} if environ is not None else {}))
    assert result.returncode == 0, result.stderr
    return result.stdout


def load_docs(text: str) -> list[Doc]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


@pytest.fixture(scope="session")
def helm4() -> str:
    return tool("helm4")


@pytest.fixture(scope="session")
def helm3() -> str:
    return tool("helm3")


@pytest.fixture(scope="session")
def rendered_text(helm4: str) -> dict[str, str]:
    """helm template (Helm 4) of every environment, once per session."""
    return {env: helm_template(helm4, env) for env in ENVIRONMENTS}


@pytest.fixture(scope="session")
def rendered(rendered_text: dict[str, str]) -> dict[str, list[Doc]]:
    return {env: load_docs(text) for env, text in rendered_text.items()}


@pytest.fixture(params=ENVIRONMENTS)
def docs(request: pytest.FixtureRequest, rendered: dict[str, list[Doc]]) -> Iterator[list[Doc]]:
    yield rendered[request.param]


def by_kind(docs: list[Doc], kind: str) -> list[Doc]:
    return [d for d in docs if d["kind"] == kind]


def pod_spec(doc: Doc) -> Doc:
    if doc["kind"] == "CronJob":
        return doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return doc["spec"]["template"]["spec"]


def workloads(docs: list[Doc]) -> list[Doc]:
    return [d for d in docs if d["kind"] in ("Deployment", "StatefulSet", "CronJob")]

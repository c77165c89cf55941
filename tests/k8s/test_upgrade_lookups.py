"""What `helm upgrade` keeps from the cluster, through the chart's `lookup` calls.

`helm template` never looks anything up, so these renders use `--dry-run=server` against a fake API on
127.0.0.1 (fake_apiserver.py) that holds the objects a test says exist: rotated database credentials stay
(rotate-secrets.sh changes them together with the role in PostgreSQL), and a Service that blue-green-deploy.sh
switched keeps its colour.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from .conftest import Doc, helm_template, load_docs
from .fake_apiserver import FakeCluster, helm_owned, secret, serve

HELMS = ("helm3", "helm4")


def render(
    request: pytest.FixtureRequest, helm_name: str, env: str, objects: list[dict[str, Any]], tmp_path: Path
) -> tuple[list[Doc], FakeCluster]:
    helm = request.getfixturevalue(helm_name)
    offline: list[Doc] = request.getfixturevalue("rendered")[env]
    cluster = FakeCluster(kinds={(d["apiVersion"], d["kind"]) for d in offline}, objects=objects)
    with serve(cluster, tmp_path) as kubeconfig:
        helm_home = tmp_path / "helm"
        env_vars = {
            **os.environ,
            "KUBECONFIG": str(kubeconfig),
            "HELM_CACHE_HOME": str(helm_home / "cache"),
            "HELM_CONFIG_HOME": str(helm_home / "config"),
            "HELM_DATA_HOME": str(helm_home / "data"),
        }
        text = helm_template(helm, env, "--dry-run=server", "--disable-openapi-validation", environ=env_vars)
    return load_docs(text), cluster


def named(docs: list[Doc], kind: str, name: str) -> Doc:
    [found] = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return found


def string_data(docs: list[Doc], name: str) -> dict[str, str]:
    return named(docs, "Secret", name)["stringData"]


@pytest.mark.parametrize("helm_name", HELMS)
@pytest.mark.parametrize("env", ["dev", "qa"])
def test_rotated_database_credentials_survive_an_upgrade(
    request: pytest.FixtureRequest, helm_name: str, env: str, tmp_path: Path
) -> None:
    rotated = {"database.username": "userservice_2", "database.password": "rotated-Xq81"}
    docs, cluster = render(request, helm_name, env, [secret(env, "user-service-secret", rotated)], tmp_path)

    # The lookups really reached the fake cluster.
    assert f"/api/v1/namespaces/{env}/secrets/user-service-secret" in cluster.requests
    # dev's values set userservice / userservice-dev-password: the cluster's rotated pair wins anyway.
    assert string_data(docs, "user-service-secret") == rotated
    # The init script's copy of the role password follows, as rotate-secrets.sh leaves it.
    assert string_data(docs, "postgres-secret")["user-service-password"] == "rotated-Xq81"
    # A service whose Secret is not in the cluster gets the values' username.
    assert string_data(docs, "product-service-secret")["database.username"] == "productservice"
    if env == "dev":
        assert string_data(docs, "product-service-secret")["database.password"] == "productservice-dev-password"


@pytest.mark.parametrize("helm_name", HELMS)
def test_a_secret_with_only_a_password_keeps_it_and_takes_the_values_username(
    request: pytest.FixtureRequest, helm_name: str, tmp_path: Path
) -> None:
    existing = secret("qa", "order-service-secret", {"database.password": "generated-before"})
    docs, _ = render(request, helm_name, "qa", [existing], tmp_path)

    assert string_data(docs, "order-service-secret") == {
        "database.username": "orderservice",
        "database.password": "generated-before",
    }
    assert string_data(docs, "postgres-secret")["order-service-password"] == "generated-before"


@pytest.mark.parametrize("helm_name", HELMS)
def test_a_switched_service_keeps_its_colour(request: pytest.FixtureRequest, helm_name: str, tmp_path: Path) -> None:
    live = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": helm_owned("user-service", "dev"),
        "spec": {"selector": {"app": "user-service", "app.kubernetes.io/instance": "ecommerce", "color": "green"}},
    }
    docs, _ = render(request, helm_name, "dev", [live], tmp_path)

    assert named(docs, "Service", "user-service")["spec"]["selector"]["color"] == "green"
    assert named(docs, "Service", "product-service")["spec"]["selector"]["color"] == "blue"
    # The chart's own pods keep values.color: the switched Service does not select them.
    assert named(docs, "Deployment", "user-service")["spec"]["template"]["metadata"]["labels"]["color"] == "blue"

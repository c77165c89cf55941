"""The object transformations and the canary verdict behind the scripts."""

from __future__ import annotations

import pytest

from ecommerce.ops import canary, kubeobj


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("ecommerce-microservices:1.0.0", "ecommerce-microservices:2.0"),
        ("registry.local:5000/shop/ecommerce:1.0.0", "registry.local:5000/shop/ecommerce:2.0"),
        ("registry.local:5000/ecommerce", "registry.local:5000/ecommerce:2.0"),
        ("ecommerce@sha256:" + "a" * 64, "ecommerce:2.0"),
    ],
)
def test_retag(image, expected):
    assert kubeobj.retag(image, "2.0") == expected


def test_derive_keeps_pod_spec_and_adds_labels_everywhere():
    deployment = {
        "metadata": {
            "name": "order-service",
            "uid": "u",
            "resourceVersion": "9",
            "labels": {"app": "order-service", "app.kubernetes.io/managed-by": "Helm"},
            "annotations": {"deployment.kubernetes.io/revision": "4", "meta.helm.sh/release-name": "ecommerce"},
        },
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "order-service"}},
            "template": {
                "metadata": {"labels": {"app": "order-service"}},
                "spec": {
                    "initContainers": [{"name": "migrate", "image": "shop:1"}],
                    "containers": [{"name": "order-service", "image": "shop:1", "env": [{"name": "A", "value": "b"}]}],
                },
            },
        },
        "status": {"readyReplicas": 2},
    }

    copy = kubeobj.derive(deployment, name="order-service-green", labels={"color": "green"}, image_tag="2", replicas=3)

    assert copy["metadata"]["name"] == "order-service-green"
    assert copy["metadata"]["annotations"] == {}
    assert "uid" not in copy["metadata"] and "status" not in copy
    assert copy["spec"]["selector"]["matchLabels"] == {"app": "order-service", "color": "green"}
    assert copy["spec"]["template"]["metadata"]["labels"] == {"app": "order-service", "color": "green"}
    pod = copy["spec"]["template"]["spec"]
    assert [c["image"] for c in pod["initContainers"] + pod["containers"]] == ["shop:2", "shop:2"]
    assert {"name": "A", "value": "b"} in pod["containers"][0]["env"]
    assert deployment["spec"]["replicas"] == 2 and copy["spec"]["replicas"] == 3


def test_eureka_counts_handle_single_objects():
    apps = {
        "applications": {
            "application": [
                {"name": "USER-SERVICE", "instance": [{"status": "UP"}, {"status": "DOWN"}]},
                {"name": "ORDER-SERVICE", "instance": {"status": "UP"}},
            ]
        }
    }
    assert kubeobj.eureka_counts(apps) == {"USER-SERVICE": 1, "ORDER-SERVICE": 1}


def test_helm_last_good_skips_failed_releases():
    history = [{"revision": n, "status": s} for n, s in [(1, "superseded"), (2, "failed"), (3, "deployed")]]
    assert kubeobj.helm_last_good(history) == 1
    assert kubeobj.helm_last_good(history[:1]) is None


def test_canary_judge():
    stable = canary.TrackStats(error_rate=0.01, p95_seconds=0.2, requests_per_second=10)
    ok = canary.TrackStats(error_rate=0.015, p95_seconds=0.28, requests_per_second=1)
    bad = canary.TrackStats(error_rate=0.05, p95_seconds=0.5, requests_per_second=1)
    quiet = canary.TrackStats(error_rate=None, p95_seconds=None, requests_per_second=None)
    limits = {"max_error_delta": 0.01, "max_latency_ratio": 1.5, "latency_floor": 0.25}

    assert canary.judge(ok, stable, **limits) == []
    assert canary.judge(quiet, stable, **limits) == []
    reasons = canary.judge(bad, stable, **limits)
    assert len(reasons) == 2 and "error rate" in reasons[0] and "p95" in reasons[1]

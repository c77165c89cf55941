"""rollback.sh goes back to the last revision recorded healthy, not to the previous one by position."""

from __future__ import annotations

import json

HEALTH_UP = '{"status":"UP"}\n'


def replicasets(*rows: tuple[str, str, str, str]) -> str:
    return "".join(f"{owner}\t{name}\t{revision}\t{verdict}\n" for owner, name, revision, verdict in rows)


def test_rollback_picks_last_healthy_revision(cluster):
    cluster.on(r"get deployment/product-service -o jsonpath=\{\.metadata\.annotations", "5")
    cluster.on(
        r"get replicasets -l app=product-service",
        replicasets(
            ("product-service", "product-service-a", "2", "healthy"),
            ("product-service", "product-service-b", "3", "healthy"),
            ("product-service", "product-service-c", "4", "unhealthy"),
            ("product-service", "product-service-d", "5", ""),
            ("product-service-canary", "product-service-canary-x", "9", "healthy"),
        ),
    )
    cluster.on(r"exec deployment/product-service", HEALTH_UP)

    result = cluster.run("rollback.sh", "dev", "product-service")

    assert result.returncode == 0, result.stderr
    assert result.called("-n dev rollout undo deployment/product-service --to-revision=3")
    assert result.index("rollout undo") < result.index("rollout status") < result.index("annotate replicaset/")
    assert result.called("ecommerce/verdict=healthy")


def test_rollback_fails_without_a_healthy_revision(cluster):
    cluster.on(r"get deployment/user-service -o jsonpath", "2")
    cluster.on(r"get replicasets", replicasets(("user-service", "user-service-a", "1", "unhealthy")))

    result = cluster.run("rollback.sh", "dev", "user-service")

    assert result.returncode == 1
    assert not result.called("rollout undo")
    assert "no earlier revision is recorded healthy" in result.stderr


def test_rollback_all_skips_healthy_and_missing(cluster):
    cluster.on(
        r"get deployment/(cloud-config-server|user-service|favourite-service|order-service|shipping-service"
        r"|payment-service|api-gateway|proxy-client)$",
        rc=1,
    )
    cluster.on(r"get deployment/product-service$", "")
    cluster.on(r"get deployment/product-service -o jsonpath", "3")
    cluster.on(
        r"get replicasets", replicasets(("product-service", "p-b", "2", "healthy"), ("product-service", "p-c", "3", ""))
    )
    cluster.on(r"exec deployment/product-service", HEALTH_UP)

    result = cluster.run("rollback.sh", "qa")

    assert result.returncode == 0, result.stderr
    assert result.lines().count("-n qa rollout undo deployment/product-service --to-revision=2") == 1
    assert sum("rollout undo" in line for line in result.lines()) == 1


def test_rollback_unhealthy_after_undo_fails(cluster):
    cluster.on(r"get deployment/product-service -o jsonpath", "3")
    cluster.on(
        r"get replicasets", replicasets(("product-service", "p-b", "2", "healthy"), ("product-service", "p-c", "3", ""))
    )
    cluster.on(r"exec deployment/product-service", '{"status":"DOWN"}')

    result = cluster.run("rollback.sh", "dev", "product-service")

    assert result.returncode == 1
    assert result.called("ecommerce/verdict=unhealthy")


def test_helm_rollback_uses_last_successful_release(cluster):
    history = [
        {"revision": 1, "status": "superseded"},
        {"revision": 2, "status": "superseded"},
        {"revision": 3, "status": "failed"},
        {"revision": 4, "status": "deployed"},
    ]
    cluster.on(r"history ecommerce", json.dumps(history), tool="helm")

    result = cluster.run("rollback.sh", "--helm", "prod")

    assert result.returncode == 0, result.stderr
    assert result.called("rollback ecommerce 2 -n prod --wait", tool="helm")


def test_dry_run_changes_nothing(cluster):
    cluster.on(r"get deployment/product-service -o jsonpath", "3")
    cluster.on(
        r"get replicasets", replicasets(("product-service", "p-b", "2", "healthy"), ("product-service", "p-c", "3", ""))
    )

    result = cluster.run("rollback.sh", "--dry-run", "dev", "product-service")

    assert result.returncode == 0, result.stderr
    assert not result.called("rollout undo")
    assert "rollout undo deployment/product-service --to-revision=2" in result.stderr

"""blue-green-deploy.sh: the new colour is checked before the Service switches; an unhealthy one gets no traffic."""

from __future__ import annotations

import json

LIVE = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "user-service", "labels": {"app": "user-service"}},
    "spec": {
        "replicas": 3,
        "selector": {"matchLabels": {"app": "user-service"}},
        "template": {
            "metadata": {"labels": {"app": "user-service"}},
            "spec": {"containers": [{"name": "user-service", "image": "ecommerce:1.0.0"}]},
        },
    },
}


def script_cluster(cluster, *, colour: str = "", health: str = '{"status":"UP"}') -> None:
    cluster.on(r"get service user-service -o jsonpath", colour)
    cluster.on(r"get deployment/user-service(-blue|-green)? -o jsonpath=\{\.spec\.replicas\}", "3")
    cluster.on(r"get deployment/user-service(-blue|-green)? -o json$", json.dumps(LIVE))
    cluster.on(r"exec deployment/user-service-(green|blue)", health)
    cluster.on(r"get endpoints user-service", "10.0.0.1 10.0.0.2 10.0.0.3")
    cluster.on(r"get replicasets", "user-service-green\tuser-service-green-abc\t1\t\n")
    cluster.on(r"annotations\.deployment", "1")


def test_first_release_switches_to_green_after_health_check(cluster):
    script_cluster(cluster)

    result = cluster.run("blue-green-deploy.sh", "--window", "0", "dev", "1.1.0", "user-service")

    assert result.returncode == 0, result.stderr
    [applied] = [json.loads(call.stdin) for call in result.calls if call.argv[-3:] == ["apply", "-f", "-"]]
    assert applied["metadata"]["name"] == "user-service-green"
    assert applied["spec"]["template"]["metadata"]["labels"]["color"] == "green"
    assert applied["spec"]["selector"]["matchLabels"]["color"] == "green"
    assert applied["spec"]["replicas"] == 3
    assert applied["spec"]["template"]["spec"]["containers"][0]["image"] == "ecommerce:1.1.0"
    status = result.index("rollout status deployment/user-service-green")
    health = result.index("exec deployment/user-service-green")
    switch = result.index('patch service user-service --type merge -p {"spec":{"selector":{"color":"green"}}}')
    assert status < health < switch < result.index("scale deployment/user-service --replicas=0")
    assert result.called("ecommerce/verdict=healthy")


def test_unhealthy_new_colour_never_gets_traffic(cluster):
    script_cluster(cluster, colour="green", health='{"status":"DOWN"}')

    result = cluster.run("blue-green-deploy.sh", "--window", "0", "prod", "2.0.0", "user-service")

    assert result.returncode == 1
    assert "user-service-blue" in result.stderr and "not healthy" in result.stderr
    assert not result.called("patch service")
    assert result.called("-n prod delete deployment user-service-blue")
    assert not result.called("delete deployment user-service-green")


def test_second_release_deletes_old_colour_after_window(cluster):
    script_cluster(cluster, colour="blue")

    result = cluster.run("blue-green-deploy.sh", "--window", "0", "dev", "1.2.0", "user-service")

    assert result.returncode == 0, result.stderr
    assert result.index('"color":"green"') < result.index("delete deployment user-service-blue")


def test_keep_old_then_switch_back(cluster):
    script_cluster(cluster, colour="green")
    cluster.on(r"get deployment/user-service-blue$", "")

    kept = cluster.run("blue-green-deploy.sh", "--keep-old", "dev", "1.2.0", "user-service")
    back = cluster.run("blue-green-deploy.sh", "--switch-back", "dev", "user-service")

    assert kept.returncode == 0 and not kept.called("delete deployment")
    assert back.returncode == 0, back.stderr
    assert back.index("scale deployment/user-service-blue --replicas=3") < back.index('"color":"blue"')


def test_missing_version_is_a_usage_error(cluster):
    result = cluster.run("blue-green-deploy.sh", "dev")
    assert result.returncode == 2 and "missing <version>" in result.stderr

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
# The chart's Deployment as it renders now: its pods carry color=blue (values.color), its selector does not.
CHART_BLUE = json.loads(json.dumps(LIVE))
CHART_BLUE["spec"]["template"]["metadata"]["labels"]["color"] = "blue"


def script_cluster(cluster, *, colour: str = "", health: str = '{"status":"UP"}', chart_colour: str = "") -> None:
    """The Service selecting `colour`, the chart's pods labelled `chart_colour` ("" = a chart from before the
    color label). Every <service>-<colour> Deployment asked about exists unless a test says otherwise."""
    chart_colour_query = r"get deployment/user-service -o jsonpath=\{\.spec\.template\.metadata\.labels\.color\}"
    cluster.on(chart_colour_query, chart_colour)
    if chart_colour:
        cluster.on(r"get deployment/user-service -o json$", json.dumps(CHART_BLUE))
    cluster.on(r"get service user-service -o jsonpath", colour)
    cluster.on(r"get deployment/user-service(-blue|-green)? -o jsonpath=\{\.spec\.replicas\}", "3")
    cluster.on(r"get deployment/user-service(-blue|-green)? -o json$", json.dumps(LIVE))
    cluster.on(r"exec deployment/user-service-(green|blue)", health)
    cluster.on(r"get endpoints user-service", "10.0.0.1 10.0.0.2 10.0.0.3")
    cluster.on(r"get replicasets", "user-service-green\tuser-service-green-abc\t1\t\n")
    cluster.on(r"annotations\.deployment", "1")
    cluster.on(r"get pods -l app=service-discovery ", "service-discovery-0\nservice-discovery-1\n")
    cluster.on(r"get pods -l app=user-service,!color ", "10.0.0.1\n10.0.0.2\n")
    cluster.on(r"get pods -l app=user-service,color=green ", "10.0.1.1\n10.0.1.2\n")
    cluster.on(r"get pods -l app=user-service,color=blue ", "10.0.2.1\n")


def registry_calls(result) -> list[tuple[str, str, str, str, list[str]]]:
    """(registry pod, method, query, app, instance ids) of each registry status change, in order."""
    calls = []
    for call in result.calls:
        if call.tool == "kubectl" and "exec" in call.argv and "registry-status" in call.argv:
            pod = call.argv[call.argv.index("exec") + 1]
            method, query, app, *ids = call.argv[call.argv.index("registry-status") + 1 :]
            calls.append((pod, method, query, app, ids))
    return calls


def registry_changes(result) -> list[tuple[str, list[str]]]:
    """(status, instance ids) of each change, once per change (the registry replicas each get it)."""
    changes = []
    for pod, method, query, _app, ids in registry_calls(result):
        if pod == "pod/service-discovery-0":
            changes.append(("UP" if method == "DELETE" else query.removeprefix("?value="), ids))
    return changes


def test_first_release_on_a_chart_before_the_color_label_switches_to_green_after_health_check(cluster):
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
    green = ["10.0.1.1:user-service:8700", "10.0.1.2:user-service:8700"]
    chart = ["10.0.0.1:user-service:8700", "10.0.0.2:user-service:8700"]
    # Held out of the registry until the switch; at the switch green UP, then the Service, then the old pods out.
    assert registry_changes(result) == [("OUT_OF_SERVICE", green), ("UP", green), ("OUT_OF_SERVICE", chart)]
    calls = registry_calls(result)
    assert {pod for pod, *_ in calls} == {"pod/service-discovery-0", "pod/service-discovery-1"}
    assert all(app == "USER-SERVICE" for *_, app, _ids in calls)
    exec_lines = [line for line in result.lines() if "registry-status" in line]
    assert all("wget" in line and "127.0.0.1:8761/eureka/apps/$a/$i/status$q" in line for line in exec_lines)
    assert all("--method=" in line for line in exec_lines)
    out_of_service = ("PUT", "?value=OUT_OF_SERVICE")
    assert [call[1:3] for call in calls[::2]] == [out_of_service, ("DELETE", ""), out_of_service]
    lines = result.lines()
    up = next(i for i, line in enumerate(lines) if "registry-status DELETE" in line)
    out = max(i for i, line in enumerate(lines) if "registry-status PUT" in line and "10.0.0.1:" in line)
    assert health < up < switch < out


def test_first_release_moves_traffic_from_the_charts_blue_pods_to_green(cluster):
    # The chart's Service selects color=blue and its own Deployment's pods carry it: no user-service-blue yet.
    script_cluster(cluster, colour="blue", chart_colour="blue")
    cluster.on(r"get deployment/user-service-(blue|green)$", rc=1, stderr="NotFound")

    result = cluster.run("blue-green-deploy.sh", "--window", "0", "dev", "1.1.0", "user-service")

    assert result.returncode == 0, result.stderr
    assert "live colour blue (user-service)" in result.stderr
    [applied] = [json.loads(call.stdin) for call in result.calls if call.argv[-3:] == ["apply", "-f", "-"]]
    assert applied["metadata"]["name"] == "user-service-green"
    assert applied["spec"]["template"]["metadata"]["labels"]["color"] == "green"
    assert applied["spec"]["selector"]["matchLabels"] == {"app": "user-service", "color": "green"}
    assert applied["spec"]["template"]["spec"]["containers"][0]["image"] == "ecommerce:1.1.0"
    health = result.index("exec deployment/user-service-green")
    switch = result.index('patch service user-service --type merge -p {"spec":{"selector":{"color":"green"}}}')
    # The chart's Deployment is Helm's: scaled to zero after the window, never deleted.
    assert health < switch < result.index("scale deployment/user-service --replicas=0")
    assert not result.called("delete deployment user-service")
    green = ["10.0.1.1:user-service:8700", "10.0.1.2:user-service:8700"]
    assert registry_changes(result) == [
        ("OUT_OF_SERVICE", green),
        ("UP", green),
        ("OUT_OF_SERVICE", ["10.0.2.1:user-service:8700"]),  # the chart's blue pods
    ]


def test_unhealthy_green_on_the_first_release_never_gets_traffic(cluster):
    script_cluster(cluster, colour="blue", chart_colour="blue", health='{"status":"DOWN"}')
    cluster.on(r"get deployment/user-service-(blue|green)$", rc=1, stderr="NotFound")

    result = cluster.run("blue-green-deploy.sh", "--window", "0", "dev", "1.1.0", "user-service")

    assert result.returncode == 1
    assert not result.called("patch service")
    assert not result.called("scale deployment/user-service ")
    assert result.called("delete deployment user-service-green")
    assert registry_changes(result) == [
        ("OUT_OF_SERVICE", ["10.0.1.1:user-service:8700", "10.0.1.2:user-service:8700"])
    ]


def test_switch_back_after_the_first_release_returns_to_the_charts_blue_pods(cluster):
    script_cluster(cluster, colour="green", chart_colour="blue")
    cluster.on(r"get deployment/user-service-blue$", rc=1, stderr="NotFound")

    back = cluster.run("blue-green-deploy.sh", "--switch-back", "dev", "user-service")

    assert back.returncode == 0, back.stderr
    assert back.index("scale deployment/user-service --replicas=3") < back.index('"color":"blue"')
    assert "traffic back on blue (user-service)" in back.stderr
    blue, green = ["10.0.2.1:user-service:8700"], ["10.0.1.1:user-service:8700", "10.0.1.2:user-service:8700"]
    assert registry_changes(back) == [("UP", blue), ("OUT_OF_SERVICE", green)]


def test_switch_back_with_no_deployment_of_the_other_colour_changes_nothing(cluster):
    script_cluster(cluster, colour="blue", chart_colour="blue")
    cluster.on(r"get deployment/user-service-green$", rc=1, stderr="NotFound")

    back = cluster.run("blue-green-deploy.sh", "--switch-back", "dev", "user-service")

    assert back.returncode == 1
    assert "no Deployment serves green" in back.stderr
    assert not back.called("patch service") and not back.called("scale ")


def test_unhealthy_new_colour_never_gets_traffic(cluster):
    script_cluster(cluster, colour="green", health='{"status":"DOWN"}')

    result = cluster.run("blue-green-deploy.sh", "--window", "0", "prod", "2.0.0", "user-service")

    assert result.returncode == 1
    assert "user-service-blue" in result.stderr and "not healthy" in result.stderr
    assert not result.called("patch service")
    assert result.called("-n prod delete deployment user-service-blue")
    assert not result.called("delete deployment user-service-green")
    # The unhealthy colour was held out of the registry; the live one was never touched there.
    assert registry_changes(result) == [("OUT_OF_SERVICE", ["10.0.2.1:user-service:8700"])]


def test_registry_refusing_the_new_colour_switches_nothing(cluster):
    script_cluster(cluster, colour="blue")
    cluster.on(r"registry-status DELETE", rc=8)

    result = cluster.run("blue-green-deploy.sh", "--window", "0", "dev", "1.2.0", "user-service")

    assert result.returncode == 1
    assert "could not be marked UP in the registry; nothing switched" in result.stderr
    assert not result.called("patch service")
    live_out = [ids for status, ids in registry_changes(result) if status == "OUT_OF_SERVICE" and "10.0.2.1" in ids[0]]
    assert live_out == []
    assert result.called("delete deployment user-service-green")
    assert not result.called("delete deployment user-service-blue")


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
    blue, green = ["10.0.2.1:user-service:8700"], ["10.0.1.1:user-service:8700", "10.0.1.2:user-service:8700"]
    assert registry_changes(kept) == [("OUT_OF_SERVICE", blue), ("UP", blue), ("OUT_OF_SERVICE", green)]
    # The fake Service still says green: switching back means blue UP, then green out.
    assert registry_changes(back) == [("UP", blue), ("OUT_OF_SERVICE", green)]
    assert back.index("registry-status DELETE") < back.index('"color":"blue"') < back.index("registry-status PUT")


def test_missing_version_is_a_usage_error(cluster):
    result = cluster.run("blue-green-deploy.sh", "dev")
    assert result.returncode == 2 and "missing <version>" in result.stderr

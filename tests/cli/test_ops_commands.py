"""`ecommerce kubeobj|canary ...`: the scripts' helpers parse options, read stdin and exit as the scripts expect."""

from __future__ import annotations

import json
import socket

from typer.testing import CliRunner

from ecommerce.cli import app

runner = CliRunner()

CRONJOB = {
    "metadata": {"name": "postgres-backup", "labels": {"app": "postgres-backup"}},
    "spec": {
        "jobTemplate": {
            "spec": {
                "template": {
                    "metadata": {"labels": {"app": "postgres-backup"}},
                    "spec": {"containers": [{"name": "backup", "image": "shop:1", "args": ["db", "backup"]}]},
                }
            }
        }
    },
}


def test_job_from_cronjob_takes_the_arguments_after_the_double_dash() -> None:
    result = runner.invoke(
        app,
        ["kubeobj", "job-from-cronjob", "--name", "restore-x", "--label", "app=postgres-restore", "--", "db", "restore",
         "f.dump", "--yes"],
        input=json.dumps(CRONJOB),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    job = json.loads(result.stdout)
    assert job["kind"] == "Job" and job["metadata"]["name"] == "restore-x"
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["db", "restore", "f.dump", "--yes"]


def test_a_malformed_label_is_a_usage_error() -> None:
    result = runner.invoke(app, ["kubeobj", "derive", "--name", "x", "--label", "novalue"], input="{}")
    assert result.exit_code == 2
    assert "key=value" in result.output


def test_eureka_count_and_helm_last_good_print_plain_lines() -> None:
    apps = {"applications": {"application": {"name": "USER-SERVICE", "instance": {"status": "UP"}}}}
    assert runner.invoke(app, ["kubeobj", "eureka-count"], input=json.dumps(apps)).stdout == "USER-SERVICE 1\n"
    history = [{"revision": 1, "status": "superseded"}, {"revision": 2, "status": "failed"}]
    assert runner.invoke(app, ["kubeobj", "helm-last-good"], input=json.dumps(history)).stdout == "1\n"


def test_canary_service_refuses_a_stable_selector_that_would_select_the_canary() -> None:
    stable = {"metadata": {"name": "api-gateway"}, "spec": {"selector": {"app": "api-gateway"}, "ports": []}}
    result = runner.invoke(
        app,
        ["canary", "service", "--name", "api-gateway-canary", "--label", "app=api-gateway"],
        input=json.dumps(stable),
    )
    assert result.exit_code == 1
    assert "would also select the canary pods" in result.output


def test_canary_gate_without_prometheus_exits_2() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = runner.invoke(
        app,
        [
            "canary",
            "gate",
            "--prometheus",
            f"http://127.0.0.1:{port}",
            "--service",
            "product-service",
            "--namespace",
            "dev",
        ],
    )
    assert result.exit_code == 2
    assert "cannot query Prometheus" in result.output

"""Blue-green from the first release: the chart's pods carry a colour and their Services select it.

scripts/blue-green-deploy.sh copies a Deployment under `<service>-<colour>` with `color=<colour>` added to its
selector and pods (ecommerce.ops.kubeobj.derive); those pods must get no Service traffic until the script
switches the Service's selector.
"""

from __future__ import annotations

import copy
import subprocess

from ecommerce.ops.kubeobj import derive

from .conftest import CHART, COMPONENTS, Doc, by_kind, load_docs, run

SWITCHED = set(COMPONENTS) - {"service-discovery"}  # the registry is a StatefulSet the scripts never switch


def services(docs: list[Doc]) -> dict[str, Doc]:
    return {d["metadata"]["name"]: d for d in by_kind(docs, "Service")}


def deployments(docs: list[Doc]) -> dict[str, Doc]:
    return {d["metadata"]["name"]: d for d in by_kind(docs, "Deployment")}


def selects(service: Doc, labels: dict[str, str]) -> bool:
    return service["spec"]["selector"].items() <= labels.items()


def test_pods_carry_the_colour_and_services_select_it(docs: list[Doc]) -> None:
    svcs, deps = services(docs), deployments(docs)
    for name in SWITCHED:
        pod_labels = deps[name]["spec"]["template"]["metadata"]["labels"]
        assert pod_labels["color"] == "blue", name
        assert svcs[name]["spec"]["selector"]["color"] == "blue", name
        assert selects(svcs[name], pod_labels), name
    registry = [d for d in docs if d["kind"] == "StatefulSet" and d["metadata"]["name"] == "service-discovery"]
    assert "color" not in registry[0]["spec"]["template"]["metadata"]["labels"]
    assert "color" not in svcs["service-discovery"]["spec"]["selector"]
    assert "color" not in svcs["service-discovery-peers"]["spec"]["selector"]


def test_deployment_selectors_stay_as_they_were(docs: list[Doc]) -> None:
    # A Deployment's selector is immutable: adding the colour to it would make `helm upgrade` fail.
    for name, deployment in deployments(docs).items():
        assert deployment["spec"]["selector"]["matchLabels"] == {
            "app": name,
            "app.kubernetes.io/instance": "ecommerce",
        }


def test_a_new_colour_gets_no_service_traffic_before_the_switch(docs: list[Doc]) -> None:
    svcs, deps = services(docs), deployments(docs)
    for name in SWITCHED:
        green = derive(
            copy.deepcopy(deps[name]), name=f"{name}-green", labels={"color": "green"}, image_tag="2.0.0", replicas=1
        )
        green_pods = green["spec"]["template"]["metadata"]["labels"]
        assert green["spec"]["selector"]["matchLabels"].items() <= green_pods.items()
        assert not selects(svcs[name], green_pods), f"{name}: the Service selects the new colour before the switch"
        switched = {**svcs[name]["spec"]["selector"], "color": "green"}  # the script's selector patch
        assert switched.items() <= green_pods.items(), name
        assert not switched.items() <= deps[name]["spec"]["template"]["metadata"]["labels"].items(), name


def test_the_colour_comes_from_the_values(helm4: str) -> None:
    docs = load_docs(helm(helm4, "--set", "color=green").stdout)
    svcs, deps = services(docs), deployments(docs)
    for name in SWITCHED:
        assert deps[name]["spec"]["template"]["metadata"]["labels"]["color"] == "green"
        assert svcs[name]["spec"]["selector"]["color"] == "green"
    refused = helm(helm4, "--set", "color=red", check=False)
    assert refused.returncode != 0 and "color" in refused.stderr


def helm(helm4: str, *extra: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = run(
        [helm4, "template", "ecommerce", str(CHART), "--namespace", "dev", "-f", str(CHART / "values-dev.yaml"), *extra]
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result

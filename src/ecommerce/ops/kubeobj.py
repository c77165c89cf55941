"""Small Kubernetes object transformations for the operations scripts (objects in, objects out).

The command line is `ecommerce kubeobj ...` (ecommerce/cli/kubeobj.py: JSON on stdin, JSON on stdout):

ecommerce kubeobj derive --name product-service-canary --label track=canary --image-tag 2.0
ecommerce kubeobj job-from-cronjob --name restore-x --label app=postgres-restore -- db restore F
ecommerce kubeobj pod-from-cronjob --name backup-lister-x -- db list --dir /backups
ecommerce kubeobj retag IMAGE TAG
"""

from __future__ import annotations

import copy
from typing import Any

_DROP_METADATA = ("uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "ownerReferences")
_DROP_ANNOTATIONS = ("deployment.kubernetes.io/revision", "kubectl.kubernetes.io/last-applied-configuration")


def retag(image: str, tag: str) -> str:
    """The same repository with another tag (a digest or an old tag is dropped; a registry port is kept)."""
    repository = image.split("@", 1)[0]
    last = repository.rsplit("/", 1)[-1]
    if ":" in last:
        repository = repository[: len(repository) - len(last)] + last.split(":", 1)[0]
    return f"{repository}:{tag}"


def derive(
    deployment: dict[str, Any], *, name: str, labels: dict[str, str], image_tag: str | None, replicas: int | None
) -> dict[str, Any]:
    """A copy of a Deployment under a new name whose selector and pods carry extra labels (canary, colour)."""
    obj = copy.deepcopy(deployment)
    obj.pop("status", None)
    meta = obj["metadata"]
    for key in _DROP_METADATA:
        meta.pop(key, None)
    meta["name"] = name
    annotations = {k: v for k, v in meta.get("annotations", {}).items() if k not in _DROP_ANNOTATIONS}
    annotations = {k: v for k, v in annotations.items() if not k.startswith("meta.helm.sh/")}
    meta["annotations"] = annotations
    meta.setdefault("labels", {}).update(labels)
    meta["labels"].pop("app.kubernetes.io/managed-by", None)
    spec = obj["spec"]
    spec.setdefault("selector", {}).setdefault("matchLabels", {}).update(labels)
    spec["template"].setdefault("metadata", {}).setdefault("labels", {}).update(labels)
    if replicas is not None:
        spec["replicas"] = replicas
    if image_tag:
        for container in spec["template"]["spec"].get("containers", []) + spec["template"]["spec"].get(
            "initContainers", []
        ):
            container["image"] = retag(container["image"], image_tag)
            _set_env(container, "ECOMMERCE_VERSION", image_tag)
    return obj


def job_from_cronjob(cronjob: dict[str, Any], *, name: str, labels: dict[str, str], args: list[str]) -> dict[str, Any]:
    """A one-off Job with the CronJob's pod (image, env, volumes, security) running `ecommerce <args>`."""
    template = copy.deepcopy(cronjob["spec"]["jobTemplate"]["spec"]["template"])
    _use_args(template, labels, args)
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "labels": labels},
        "spec": {"backoffLimit": 0, "ttlSecondsAfterFinished": 86400, "template": template},
    }


def pod_from_cronjob(cronjob: dict[str, Any], *, name: str, labels: dict[str, str], args: list[str]) -> dict[str, Any]:
    """A short-lived Pod with the CronJob's pod spec running `ecommerce <args>` (volumes mounted read-only)."""
    template = copy.deepcopy(cronjob["spec"]["jobTemplate"]["spec"]["template"])
    _use_args(template, labels, args)
    for container in template["spec"]["containers"]:
        for mount in container.get("volumeMounts", []):
            mount["readOnly"] = True
    template["spec"]["restartPolicy"] = "Never"
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels},
        "spec": template["spec"],
    }


def _use_args(template: dict[str, Any], labels: dict[str, str], args: list[str]) -> None:
    template.setdefault("metadata", {})["labels"] = labels
    template["spec"]["restartPolicy"] = "Never"
    container = template["spec"]["containers"][0]
    container["command"] = ["ecommerce"]
    container["args"] = args


def _set_env(container: dict[str, Any], name: str, value: str) -> None:
    env = [entry for entry in container.get("env", []) if entry.get("name") != name]
    container["env"] = [*env, {"name": name, "value": value}]


def eureka_counts(apps: dict[str, Any]) -> dict[str, int]:
    """UP instances per application in a Eureka /eureka/apps JSON document (one instance may be a bare object)."""
    listed = apps.get("applications", {}).get("application", [])
    counts = {}
    for app in [listed] if isinstance(listed, dict) else listed:
        instances = app.get("instance", [])
        instances = [instances] if isinstance(instances, dict) else instances
        counts[app["name"].upper()] = sum(1 for entry in instances if entry.get("status", "UP") == "UP")
    return counts


def helm_last_good(history: list[dict[str, Any]]) -> int | None:
    """The newest revision before the current one that was deployed successfully (helm history -o json)."""
    revisions = sorted(history, key=lambda entry: int(entry["revision"]))
    if len(revisions) < 2:
        return None
    good = [entry for entry in revisions[:-1] if entry.get("status") in ("superseded", "deployed")]
    return int(good[-1]["revision"]) if good else None

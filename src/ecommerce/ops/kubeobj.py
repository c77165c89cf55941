"""Small Kubernetes object transformations for the operations scripts (JSON on stdin, JSON on stdout).

python -m ecommerce.ops.kubeobj derive --name product-service-canary --label track=canary --image IMG
python -m ecommerce.ops.kubeobj job-from-cronjob --name restore-x --label app=postgres-restore -- db restore F
python -m ecommerce.ops.kubeobj pod-from-cronjob --name backup-lister-x -- db list --dir /backups
python -m ecommerce.ops.kubeobj retag IMAGE TAG
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
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


def parse_labels(pairs: list[str]) -> dict[str, str]:
    """`["k=v", ...]` from repeated --label options -> a dict; exit with a message on a malformed pair."""
    labels = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"label must be key=value: {pair}")
        labels[key] = value
    return labels


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ecommerce.ops.kubeobj")
    sub = parser.add_subparsers(dest="command", required=True)
    derive_cmd = sub.add_parser("derive")
    derive_cmd.add_argument("--name", required=True)
    derive_cmd.add_argument("--label", action="append", default=[])
    derive_cmd.add_argument("--image-tag")
    derive_cmd.add_argument("--replicas", type=int)
    for command in ("job-from-cronjob", "pod-from-cronjob"):
        cmd = sub.add_parser(command)
        cmd.add_argument("--name", required=True)
        cmd.add_argument("--label", action="append", default=[])
        cmd.add_argument("args", nargs=argparse.REMAINDER)
    sub.add_parser("eureka-count")
    sub.add_parser("helm-last-good")
    retag_cmd = sub.add_parser("retag")
    retag_cmd.add_argument("image")
    retag_cmd.add_argument("tag")
    options = parser.parse_args(argv)
    if options.command == "retag":
        print(retag(options.image, options.tag))
        return 0
    source = json.load(sys.stdin)
    if options.command == "helm-last-good":
        revision = helm_last_good(source)
        if revision is not None:
            print(revision)
        return 0
    if options.command == "eureka-count":
        for app, count in sorted(eureka_counts(source).items()):
            print(f"{app} {count}")
        return 0
    if options.command == "derive":
        result = derive(
            source,
            name=options.name,
            labels=parse_labels(options.label),
            image_tag=options.image_tag,
            replicas=options.replicas,
        )
    else:
        args = [arg for arg in options.args if arg != "--"]
        build = job_from_cronjob if options.command == "job-from-cronjob" else pod_from_cronjob
        result = build(source, name=options.name, labels=parse_labels(options.label), args=args)
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

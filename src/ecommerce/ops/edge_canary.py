"""The objects of an edge canary (api-gateway, proxy-client), for canary-deploy.sh (JSON in, JSON out).

ecommerce canary service --name api-gateway-canary --label track=canary < stable-service.json
    The canary Service: the stable Service's ports and labels (so the ServiceMonitor scrapes the canary pods),
    selecting the canary pods only. Exit 1 when the stable Service's selector would also select them (the
    ingress weight would then not be the canary's real share).
ecommerce canary ingress --service api-gateway --name api-gateway-canary --weight 10 < ingresses.json
    The nginx canary Ingress: the same hosts and paths as the Ingresses routing to the service (a `kubectl get
    ingress -o json` list), each sent to the canary Service, with the canary and canary-weight annotations.
    No TLS section and no cert-manager annotation: the main Ingress keeps the certificate. Exit 1 when no
    Ingress routes to the service.
"""

from __future__ import annotations

from typing import Any

CANARY = "nginx.ingress.kubernetes.io/canary"
CANARY_WEIGHT = "nginx.ingress.kubernetes.io/canary-weight"
_DROP_LABELS = ("app.kubernetes.io/managed-by", "helm.sh/chart")


def canary_service(stable: dict[str, Any], *, name: str, pod_labels: dict[str, str]) -> dict[str, Any]:
    selector = dict(stable["spec"].get("selector") or {})
    if all(pod_labels.get(key, value) == value for key, value in selector.items()):
        raise ValueError(
            f"the selector of Service {stable['metadata']['name']} ({selector}) would also select the canary pods"
        )
    labels = {k: v for k, v in (stable["metadata"].get("labels") or {}).items() if k not in _DROP_LABELS}
    labels["track"] = "canary"
    ports = [{k: v for k, v in port.items() if k != "nodePort"} for port in stable["spec"]["ports"]]
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": labels},
        "spec": {"type": "ClusterIP", "selector": {**selector, **pod_labels}, "ports": ports},
    }


def canary_ingress(ingresses: dict[str, Any], *, service: str, name: str, weight: int) -> dict[str, Any]:
    if not 0 <= weight <= 100:
        raise ValueError(f"weight must be 0..100: {weight}")
    rules: list[dict[str, Any]] = []
    class_name = None
    for ingress in ingresses.get("items", [ingresses] if ingresses.get("kind") == "Ingress" else []):
        annotations = ingress["metadata"].get("annotations") or {}
        if annotations.get(CANARY) == "true":
            continue
        for rule in ingress["spec"].get("rules", []):
            paths = []
            for path in (rule.get("http") or {}).get("paths", []):
                backend = (path.get("backend") or {}).get("service") or {}
                if backend.get("name") == service:
                    paths.append({**path, "backend": {"service": {**backend, "name": name}}})
            if paths:
                class_name = class_name or ingress["spec"].get("ingressClassName")
                entry: dict[str, Any] = {"http": {"paths": paths}}
                if "host" in rule:
                    entry = {"host": rule["host"], **entry}
                rules.append(entry)
    if not rules:
        raise ValueError(f"no Ingress routes to Service {service}")
    spec: dict[str, Any] = {"rules": rules}
    if class_name:
        spec = {"ingressClassName": class_name, **spec}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {
            "name": name,
            "labels": {"app": service, "track": "canary"},
            "annotations": {CANARY: "true", CANARY_WEIGHT: str(weight)},
        },
        "spec": spec,
    }

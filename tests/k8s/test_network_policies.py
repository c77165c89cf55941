"""Evaluate the rendered NetworkPolicies the way a CNI does: the real flows are allowed, everything else denied."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from .conftest import BUSINESS, COMPONENTS, Doc, by_kind, pod_spec, workloads


@dataclass(frozen=True)
class Pod:
    namespace: str
    labels: dict[str, str]
    ports: dict[str, int] = field(default_factory=dict)  # named container ports

    def __hash__(self) -> int:
        return hash((self.namespace, tuple(sorted(self.labels.items()))))


def matches(selector: Doc | None, labels: dict[str, str]) -> bool:
    """A label selector; an empty selector matches everything."""
    selector = selector or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values", [])
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def peer_matches(peer: Doc, policy_ns: str, pod: Pod, namespace_labels: dict[str, dict[str, str]]) -> bool:
    if "ipBlock" in peer:
        return False  # the policies here never open CIDRs
    if "namespaceSelector" in peer:
        if not matches(peer["namespaceSelector"], namespace_labels[pod.namespace]):
            return False
    elif pod.namespace != policy_ns:
        return False
    return matches(peer.get("podSelector"), pod.labels)


def port_matches(ports: list[Doc] | None, target: Pod, port: int, protocol: str) -> bool:
    if not ports:
        return True
    for entry in ports:
        if entry.get("protocol", "TCP") != protocol:
            continue
        wanted = entry.get("port")
        if wanted is None or wanted == port or (isinstance(wanted, str) and target.ports.get(wanted) == port):
            return True
    return False


class Network:
    def __init__(self, policies: list[Doc], namespace_labels: dict[str, dict[str, str]]) -> None:
        self.policies = policies
        self.namespace_labels = namespace_labels

    def _direction_allows(self, subject: Pod, other: Pod, target: Pod, port: int, protocol: str, kind: str) -> bool:
        selecting = [
            p
            for p in self.policies
            if p["metadata"]["namespace"] == subject.namespace
            and kind in p["spec"]["policyTypes"]
            and matches(p["spec"]["podSelector"], subject.labels)
        ]
        if not selecting:
            return True  # not isolated in this direction
        key, peers_key = ("ingress", "from") if kind == "Ingress" else ("egress", "to")
        for policy in selecting:
            for rule in policy["spec"].get(key) or []:
                peers = rule.get(peers_key)
                peer_ok = not peers or any(
                    peer_matches(peer, policy["metadata"]["namespace"], other, self.namespace_labels) for peer in peers
                )
                if peer_ok and port_matches(rule.get("ports"), target, port, protocol):
                    return True
        return False

    def allows(self, source: Pod, destination: Pod, port: int, protocol: str = "TCP") -> bool:
        return self._direction_allows(source, destination, destination, port, protocol, "Egress") and (
            self._direction_allows(destination, source, destination, port, protocol, "Ingress")
        )


def pods_of(docs: list[Doc], namespace: str) -> dict[str, Pod]:
    pods = {}
    for workload in workloads(docs):
        if workload["kind"] == "CronJob":
            labels = workload["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
        else:
            labels = workload["spec"]["template"]["metadata"]["labels"]
        ports = {p["name"]: p["containerPort"] for c in pod_spec(workload)["containers"] for p in c.get("ports", [])}
        pods[labels["app"]] = Pod(namespace, labels, ports)
    return pods


OUTSIDE = {
    "ingress-controller": Pod("ingress-nginx", {"app.kubernetes.io/name": "ingress-nginx"}),
    "prometheus": Pod("monitoring", {"app.kubernetes.io/name": "prometheus"}),
    "jaeger-collector": Pod("monitoring", {"app": "jaeger"}, {"otlp-grpc": 4317, "otlp-http": 4318}),
    "dns": Pod("kube-system", {"k8s-app": "kube-dns"}),
    "other-namespace-pod": Pod("default", {"app": "curious"}),
    "debug-pod": None,  # filled per namespace: a pod in the shop's namespace that belongs to no component
}

CALLS = {
    "api-gateway": list(BUSINESS) + ["proxy-client"],
    "proxy-client": list(BUSINESS),
    "order-service": ["product-service", "user-service", "payment-service", "shipping-service"],
    "favourite-service": ["user-service", "product-service"],
    "payment-service": ["order-service"],
    "shipping-service": ["product-service", "order-service"],
}


@pytest.fixture
def net(docs: list[Doc]) -> tuple[Network, dict[str, Pod]]:
    policies = by_kind(docs, "NetworkPolicy")
    assert policies, "no NetworkPolicy rendered"
    namespace = policies[0]["metadata"]["namespace"]
    namespace_labels = {
        ns: {"kubernetes.io/metadata.name": ns}
        for ns in (namespace, "ingress-nginx", "monitoring", "kube-system", "default")
    }
    pods = pods_of(docs, namespace)
    pods.update({k: v for k, v in OUTSIDE.items() if v is not None})
    pods["debug-pod"] = Pod(namespace, {"run": "debug"})
    pods["restore-job"] = Pod(namespace, {"app": "postgres-restore"})
    # Where the load generator is off (qa, prod), a pod with its label must reach nothing.
    pods.setdefault("loadgenerator", Pod(namespace, {"app": "loadgenerator"}))
    return Network(policies, namespace_labels), pods


def port_of(name: str) -> int:
    return 5432 if name == "postgres" else COMPONENTS[name][0]


def loadgenerator_rendered(pods: dict[str, Pod]) -> bool:
    """Whether the environment runs the load generator (dev); elsewhere `pods` has a stand-in with its label."""
    return pods["loadgenerator"].labels.get("app.kubernetes.io/name") == "loadgenerator"


def allowed_flows(pods: dict[str, Pod]) -> set[tuple[str, str, int]]:
    flows = {("ingress-controller", "api-gateway", 8080), ("ingress-controller", "proxy-client", 8900)}
    for source, targets in CALLS.items():
        flows |= {(source, target, port_of(target)) for target in targets}
    for component in COMPONENTS:
        flows.add((component, "service-discovery", 8761))
        flows.add((component, "cloud-config-server", 9296))
        flows.add((component, "jaeger-collector", 4317))
        flows.add((component, "jaeger-collector", 4318))
        flows.add(("prometheus", component, port_of(component)))
    for service in BUSINESS:
        flows.add((service, "postgres", 5432))
    flows.add(("postgres-backup", "postgres", 5432))
    flows.add(("restore-job", "postgres", 5432))
    if loadgenerator_rendered(pods):  # its shoppers (dev): the gateway and the storefront, nothing else
        flows.add(("loadgenerator", "api-gateway", 8080))
        flows.add(("loadgenerator", "proxy-client", 8900))
    return flows


def test_every_real_flow_is_allowed(net: tuple[Network, dict[str, Pod]]) -> None:
    network, pods = net
    denied = [f for f in sorted(allowed_flows(pods)) if not network.allows(pods[f[0]], pods[f[1]], f[2])]
    assert not denied


def test_dns_is_allowed_for_every_component_and_the_backup(net: tuple[Network, dict[str, Pod]]) -> None:
    network, pods = net
    for name in [*COMPONENTS, "postgres-backup", *(["loadgenerator"] if loadgenerator_rendered(pods) else [])]:
        assert network.allows(pods[name], pods["dns"], 53, "UDP"), name
        assert network.allows(pods[name], pods["dns"], 53, "TCP"), name


FORBIDDEN = [
    ("proxy-client", "postgres", 5432),
    ("api-gateway", "postgres", 5432),
    ("service-discovery", "postgres", 5432),
    ("ingress-controller", "user-service", 8700),
    ("ingress-controller", "postgres", 5432),
    ("other-namespace-pod", "api-gateway", 8080),
    ("other-namespace-pod", "postgres", 5432),
    ("debug-pod", "postgres", 5432),
    ("debug-pod", "user-service", 8700),
    ("user-service", "order-service", 8300),
    ("product-service", "user-service", 8700),
    ("payment-service", "product-service", 8500),
    ("proxy-client", "api-gateway", 8080),
    ("postgres", "user-service", 8700),
    ("postgres-backup", "user-service", 8700),
    ("prometheus", "postgres", 5432),
    ("user-service", "other-namespace-pod", 80),
    ("user-service", "api-gateway", 8080),
    ("loadgenerator", "postgres", 5432),
    ("loadgenerator", "user-service", 8700),
    ("loadgenerator", "service-discovery", 8761),
    ("loadgenerator", "other-namespace-pod", 80),
    ("debug-pod", "loadgenerator", 8089),
]


@pytest.mark.parametrize(("source", "destination", "port"), FORBIDDEN)
def test_forbidden_flows_are_denied(
    net: tuple[Network, dict[str, Pod]], source: str, destination: str, port: int
) -> None:
    network, pods = net
    assert not network.allows(pods[source], pods[destination], port)


def test_nothing_beyond_the_real_flows_is_allowed_between_the_shops_pods(net: tuple[Network, dict[str, Pod]]) -> None:
    network, pods = net
    allowed = allowed_flows(pods)
    inside = [*COMPONENTS, "postgres", "postgres-backup", "restore-job", "debug-pod", "loadgenerator"]
    extra = []
    for source in inside:
        for destination in inside:
            if source == destination or destination in ("postgres-backup", "restore-job", "debug-pod", "loadgenerator"):
                continue
            port = port_of(destination)
            if network.allows(pods[source], pods[destination], port) and (source, destination, port) not in allowed:
                extra.append((source, destination))
    # The registry replicas replicate to each other (same app label: source == destination above).
    assert network.allows(pods["service-discovery"], pods["service-discovery"], 8761)
    assert not extra


def test_evaluator_denies_when_policies_are_missing_a_rule() -> None:
    """The evaluator itself: a default-deny namespace with one egress-only rule lets nothing in."""
    deny = {"metadata": {"namespace": "x"}, "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}}
    egress = {
        "metadata": {"namespace": "x"},
        "spec": {
            "podSelector": {"matchLabels": {"app": "a"}},
            "policyTypes": ["Egress"],
            "egress": [{"to": [{"podSelector": {"matchLabels": {"app": "b"}}}]}],
        },
    }
    network = Network([deny, egress], {"x": {}})
    a, b = Pod("x", {"app": "a"}), Pod("x", {"app": "b"}, {"http": 80})
    assert not network.allows(a, b, 80)
    network = Network([egress], {"x": {}})
    assert network.allows(a, b, 80)
    assert not Network([deny], {"x": {}}).allows(b, a, 80)

"""A tiny stand-in for the Kubernetes API on 127.0.0.1, so that `helm template --dry-run=server` runs the chart's
`lookup` calls offline against objects a test puts "in the cluster".

It answers what Helm asks for: /version, the discovery documents (/api, /apis, /api/v1, /apis/<group>/<version>,
built from the kinds the chart renders, so Helm can map every object), and GET of one namespaced object; any
other object is 404 Not Found, as on a cluster that does not have it. Every request path is recorded.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

CLUSTER_SCOPED = {"Namespace", "StorageClass", "ClusterRole", "ClusterRoleBinding", "ClusterIssuer"}


def plural(kind: str) -> str:
    lower = kind.lower()
    if lower.endswith("y"):
        return lower[:-1] + "ies"
    if lower.endswith("s"):
        return lower + "es"
    return lower + "s"


def helm_owned(name: str, namespace: str, release: str = "ecommerce") -> dict[str, Any]:
    """Metadata of an object a Helm release installed (Helm 4 refuses to take over any other)."""
    return {
        "name": name,
        "namespace": namespace,
        "labels": {"app.kubernetes.io/managed-by": "Helm"},
        "annotations": {"meta.helm.sh/release-name": release, "meta.helm.sh/release-namespace": namespace},
    }


def secret(namespace: str, name: str, data: dict[str, str]) -> dict[str, Any]:
    encoded = {key: base64.b64encode(value.encode()).decode() for key, value in data.items()}
    return {"apiVersion": "v1", "kind": "Secret", "metadata": helm_owned(name, namespace), "data": encoded}


@dataclass
class FakeCluster:
    kinds: set[tuple[str, str]]  # (apiVersion, kind) of every object the chart renders
    objects: list[dict[str, Any]] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def discovery(self, path: str) -> dict[str, Any] | None:
        versions: dict[str, list[str]] = {}
        for api_version, kind in sorted(self.kinds):
            versions.setdefault(api_version, []).append(kind)
        if path == "/version":
            return {"major": "1", "minor": "29", "gitVersion": "v1.29.0"}
        if path == "/api":
            return {"kind": "APIVersions", "versions": ["v1"]}
        if path == "/apis":
            groups = []
            for api_version in versions:
                if "/" in api_version:
                    group, version = api_version.split("/")
                    entry = {"groupVersion": api_version, "version": version}
                    groups.append({"name": group, "versions": [entry], "preferredVersion": entry})
            return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}
        api_version = path.removeprefix("/api/").removeprefix("/apis/")
        if path.startswith(("/api/", "/apis/")) and api_version in versions:
            resources = [
                {
                    "name": plural(kind),
                    "singularName": kind.lower(),
                    "namespaced": kind not in CLUSTER_SCOPED,
                    "kind": kind,
                    "verbs": ["get", "list", "create", "update", "patch", "delete"],
                }
                for kind in versions[api_version]
            ]
            return {"kind": "APIResourceList", "groupVersion": api_version, "resources": resources}
        return None

    def get(self, path: str) -> dict[str, Any] | None:
        for obj in self.objects:
            api_version, kind = obj["apiVersion"], obj["kind"]
            prefix = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
            meta = obj["metadata"]
            if path == f"{prefix}/namespaces/{meta['namespace']}/{plural(kind)}/{meta['name']}":
                return obj
        return None


@contextmanager
def serve(cluster: FakeCluster, tmp_path: Path) -> Iterator[Path]:
    """Run the fake API; yields a kubeconfig file that points at it."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class' name
            del format, args

        def do_GET(self) -> None:  # noqa: N802 - the base class' name
            path = self.path.split("?", 1)[0]
            cluster.requests.append(path)
            answer = cluster.discovery(path) or cluster.get(path)
            status = 200
            if answer is None:
                status = 404
                answer = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404}
            body = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "fake", "cluster": {"server": f"http://127.0.0.1:{server.server_address[1]}"}}],
                "users": [{"name": "fake", "user": {"token": "fake"}}],
                "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}],
                "current-context": "fake",
            }
        )
    )
    try:
        yield kubeconfig
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

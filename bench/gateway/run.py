"""The gateway against nginx, both proxying the same trivial backend.

- backend: an nginx server answering a small JSON body (so the backend is never what is measured);
- nginx: one worker, keep-alive to the backend, access log on (to a file);
- api-gateway: `ecommerce run api-gateway` (one uvicorn worker) with its default chassis (metrics, JSON access log),
  a public route to the backend and an in-memory rate limit too high to trigger.
The proxy under test is pinned to core 0; wrk and the backend share core 1. Throughput: wrk, 1 thread, 32
connections; added latency: 1 connection, p50/p99 minus the backend's own. Medians of alternating rounds go to
bench/results/gateway.md. `python -m bench gateway` (installs nginx and wrk from Debian packages when missing).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from bench.common import RESULTS, free_port, machine, median_of, python, server, wrk

ROUNDS = 3
SECONDS = 8
LATENCY_SECONDS = 5
PATH = "/product-service/api/products/1"

BACKEND_CONF = """
worker_processes 1;
daemon off;
pid {dir}/backend.pid;
error_log {dir}/backend-error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  keepalive_requests 1000000;
  server {{
    listen 127.0.0.1:{port};
    location / {{
      default_type application/json;
      return 200 '{{"productId":1,"productTitle":"asus","priceUnit":0.0,"quantity":50}}';
    }}
  }}
}}
"""

PROXY_CONF = """
worker_processes 1;
daemon off;
pid {dir}/proxy.pid;
error_log {dir}/proxy-error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log {dir}/proxy-access.log;
  keepalive_requests 1000000;
  upstream backend {{
    server 127.0.0.1:{backend};
    keepalive 64;
  }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $host;
    }}
  }}
}}
"""


def ensure_tools() -> None:
    """nginx and wrk from Debian packages, installed when missing."""
    missing = [package for package, binary in (("nginx", "nginx"), ("wrk", "wrk")) if not _which(binary)]
    if missing:
        print(f"installing {' '.join(missing)}", file=sys.stderr)
        sudo = [] if os.geteuid() == 0 else ["sudo"]
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run([*sudo, "apt-get", "install", "-y", "-q", *missing], check=True, env=env)


def _which(binary: str) -> str | None:
    return shutil.which(binary) or shutil.which(binary, path="/usr/sbin:/usr/bin")


def _nginx(conf: str, workdir: Path, name: str, ready_url: str):  # type: ignore[no-untyped-def]
    path = workdir / f"{name}.conf"
    path.write_text(conf)
    binary = _which("nginx")
    assert binary is not None
    return server([binary, "-p", str(workdir), "-c", str(path)], ready_url, cpu=0 if name == "proxy" else 1)


def _routes_file(workdir: Path, backend: str) -> Path:
    document = {
        "gateway": {
            "defaults": {"rate-limit": {"rate": 1_000_000.0, "burst": 1_000_000}},
            "routes": [
                {
                    "id": "product-service",
                    "path": "/product-service/**",
                    "service": "product-service",
                    "urls": [backend],
                }
            ],  # fmt: skip
            "policy": [{"path": "/product-service/api/products/**", "methods": ["GET"], "access": "public"}],
        }
    }
    path = workdir / "routes.yml"
    path.write_text(yaml.safe_dump(document))
    return path


def main() -> None:
    ensure_tools()
    with tempfile.TemporaryDirectory(prefix="bench-gateway-") as tmp:
        workdir = Path(tmp)
        (workdir / "logs").mkdir()
        backend_port, proxy_port, gateway_port = free_port(), free_port(), free_port()
        backend = f"http://127.0.0.1:{backend_port}"
        gateway_env = {
            "GATEWAY_ROUTES_FILE": str(_routes_file(workdir, backend)),
            "ECOMMERCE_LOG_LEVEL": "WARNING",
            "CONFIG_SERVER_URL": "",
            "DISCOVERY_URL": "",
            "REDIS_URL": "",
            "ECOMMERCE_DATA_DIR": str(workdir / "data"),
        }
        gateway_cmd = [python(), "-m", "ecommerce", "run", "api-gateway", "--port", str(gateway_port)]
        urls = {
            "backend (direct)": f"{backend}{PATH}",
            "nginx": f"http://127.0.0.1:{proxy_port}{PATH}",
            "api-gateway": f"http://127.0.0.1:{gateway_port}{PATH}",
        }
        throughput: dict[str, list[dict[str, float]]] = {name: [] for name in urls}
        latency: dict[str, list[dict[str, float]]] = {name: [] for name in urls}
        with (
            _nginx(BACKEND_CONF.format(dir=workdir, port=backend_port), workdir, "backend", urls["backend (direct)"]),
            _nginx(
                PROXY_CONF.format(dir=workdir, port=proxy_port, backend=backend_port), workdir, "proxy", urls["nginx"]
            ),
            server(gateway_cmd, urls["api-gateway"], env=gateway_env, cpu=0),
        ):
            for url in urls.values():
                wrk(url, seconds=2, cpu=1)  # warm-up: pools filled, code paths hot
            for _ in range(ROUNDS):
                for name, url in urls.items():
                    throughput[name].append(wrk(url, seconds=SECONDS, cpu=1))
                    latency[name].append(wrk(url, seconds=LATENCY_SECONDS, connections=1, cpu=1))
        write_results({n: median_of(r) for n, r in throughput.items()}, {n: median_of(r) for n, r in latency.items()})


def write_results(throughput: dict[str, dict[str, float]], latency: dict[str, dict[str, float]]) -> None:
    nginx, gateway, direct = throughput["nginx"], throughput["api-gateway"], latency["backend (direct)"]
    share = gateway["rps"] / nginx["rps"]
    added = {name: (latency[name]["p50_ms"] - direct["p50_ms"], latency[name]["p99_ms"] - direct["p99_ms"])
             for name in ("nginx", "api-gateway")}  # fmt: skip
    lines = [
        "# api-gateway against nginx",
        "",
        f"Machine: {machine()}.",
        "",
        "`python -m bench gateway`: nginx and api-gateway proxy the same nginx backend (a small JSON body).",
        "The proxy under test is pinned to core 0 (one nginx worker; one uvicorn worker for the gateway, with its",
        "chassis metrics, JSON access log, route policy and in-memory rate limit); wrk and the backend share core 1.",
        f"Throughput: wrk 1 thread, 32 connections, {SECONDS} s. Latency: 1 connection, {LATENCY_SECONDS} s.",
        f"Medians of {ROUNDS} alternating rounds.",
        "",
        "| target | requests/s (32 conn.) | p50 ms | p99 ms | p50 ms (1 conn.) | p99 ms (1 conn.) | errors |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name in throughput:
        t, lat = throughput[name], latency[name]
        lines.append(
            f"| {name} | {t['rps']:.0f} | {t.get('p50_ms', 0):.2f} | {t.get('p99_ms', 0):.2f} | "
            f"{lat.get('p50_ms', 0):.3f} | {lat.get('p99_ms', 0):.3f} | {t['errors'] + lat['errors']:.0f} |"
        )
    lines += [
        "",
        f"- api-gateway throughput: **{share:.0%} of nginx** (goal: at least 40 %).",
        f"- added latency over the direct backend, 1 connection: api-gateway p50 **{added['api-gateway'][0]:.3f} ms**, "
        f"p99 {added['api-gateway'][1]:.3f} ms (goal: p50 at most 0.3 ms); nginx p50 {added['nginx'][0]:.3f} ms, "
        f"p99 {added['nginx'][1]:.3f} ms.",
        "",
    ]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "gateway.md").write_text("\n".join(lines))
    print("\n".join(lines))

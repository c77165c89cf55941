"""The gateway against nginx, both proxying the same trivial backend.

- backend: an nginx server answering a small JSON body (so the backend is never what is measured);
- nginx: one worker, keep-alive to the backend, access log on (to a file);
- api-gateway: `ecommerce run api-gateway` (one uvicorn worker) with its default chassis (metrics, JSON access log),
  a public route to the backend and an in-memory rate limit too high to trigger;
- api-gateway (at REV): the same command on the source tree of an earlier revision (`git archive`), one per entry
  of `BASELINES`, so the before and after figures come from one run on one machine state.
The proxy under test is pinned to core 0; wrk and the backend share core 1. Throughput: wrk, 1 thread, 32
connections; added latency: 1 connection, p50/p99 minus the backend's own.

The gateway in front of a real product-service (PostgreSQL) is measured by bench/product_reads.

Medians of alternating rounds go to bench/results/gateway.md; a `## Profile` section already in that file is kept.
`python -m bench gateway` (installs nginx and wrk from Debian packages when missing). Environment:
BENCH_ROUNDS (default 3), GATEWAY_BASELINES (git revisions, space-separated; empty to skip the before columns).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from bench.common import RESULTS, baseline_src, free_port, machine, median_of, python, server, wrk

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
SECONDS = 8
LATENCY_SECONDS = 5
PATH = "/product-service/api/products/1"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
HELLO = "uvicorn, constant answer (floor)"
UVICORN_FAST = ["--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning"]
# 8e66a89: every edge rule written twice (a native exchange and an ASGI one), before the one exchange core;
# 451ceba: its own protocol, before the trimming; 6cf1396: the gateway on aiohttp behind the chassis middleware
BASELINES = os.environ.get("GATEWAY_BASELINES", "8e66a89 451ceba 6cf1396").split()

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


def _routes_file(workdir: Path, backend: str, name: str = "routes.yml") -> Path:
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
    path = workdir / name
    path.write_text(yaml.safe_dump(document))
    return path


def _gateway_env(workdir: Path, routes: Path, src: Path | None = None) -> dict[str, str]:
    env = {
        "GATEWAY_ROUTES_FILE": str(routes),
        "ECOMMERCE_LOG_LEVEL": "WARNING",
        "CONFIG_SERVER_URL": "",
        "DISCOVERY_URL": "",
        "REDIS_URL": "",
        "ECOMMERCE_DATA_DIR": str(workdir / "data"),
    }
    if src is not None:
        env["PYTHONPATH"] = str(src)  # ahead of the installed (editable) package
    return env


def _gateway(port: int, env: dict[str, str], ready: str, cpu: int = 0):  # type: ignore[no-untyped-def]
    command = [python(), "-m", "ecommerce", "run", "api-gateway", "--port", str(port)]
    return server(command, ready, env=env, cpu=cpu)


def main() -> None:
    ensure_tools()
    with tempfile.TemporaryDirectory(prefix="bench-gateway-") as tmp:
        workdir = Path(tmp)
        (workdir / "logs").mkdir()
        backend_port, proxy_port, gateway_port, hello_port = free_port(), free_port(), free_port(), free_port()
        backend = f"http://127.0.0.1:{backend_port}"
        routes = _routes_file(workdir, backend)
        urls = {
            "backend (direct)": f"{backend}{PATH}",
            "nginx": f"http://127.0.0.1:{proxy_port}{PATH}",
            "api-gateway": f"http://127.0.0.1:{gateway_port}{PATH}",
            HELLO: f"http://127.0.0.1:{hello_port}{PATH}",
        }
        trees = {}
        for revision in BASELINES:
            tree = baseline_src(workdir, revision)
            if tree is not None:
                trees[f"api-gateway (at {revision})"] = tree
                urls[f"api-gateway (at {revision})"] = f"http://127.0.0.1:{free_port()}{PATH}"
        throughput: dict[str, list[dict[str, float]]] = {name: [] for name in urls}
        latency: dict[str, list[dict[str, float]]] = {name: [] for name in urls}
        with contextlib.ExitStack() as stack:
            backend_conf = BACKEND_CONF.format(dir=workdir, port=backend_port)
            proxy_conf = PROXY_CONF.format(dir=workdir, port=proxy_port, backend=backend_port)
            pids = {
                "backend (direct)": stack.enter_context(
                    _nginx(backend_conf, workdir, "backend", urls["backend (direct)"])
                ).pid,
                "nginx": stack.enter_context(_nginx(proxy_conf, workdir, "proxy", urls["nginx"])).pid,
            }
            for name, url in urls.items():
                if name.startswith("api-gateway"):
                    env = _gateway_env(workdir, routes, trees.get(name))
                    port = int(url.split(":")[2].split("/")[0])
                    pids[name] = stack.enter_context(_gateway(port, env, url)).pid
            hello = [python(), "-m", "uvicorn", "bench.gateway.hello:app", "--port", str(hello_port), *UVICORN_FAST]
            pids[HELLO] = stack.enter_context(server(hello, urls[HELLO], cpu=0)).pid
            for url in urls.values():
                wrk(url, seconds=2, cpu=1)  # warm-up: pools filled, code paths hot
            for _ in range(ROUNDS):
                for name, url in urls.items():
                    before_cpu = _cpu_seconds(pids[name])
                    result = wrk(url, seconds=SECONDS, cpu=1)
                    result["cpu_us"] = (_cpu_seconds(pids[name]) - before_cpu) / (result["rps"] * SECONDS) * 1e6
                    throughput[name].append(result)
                    latency[name].append(wrk(url, seconds=LATENCY_SECONDS, connections=1, cpu=1))
        write_results({n: median_of(r) for n, r in throughput.items()}, {n: median_of(r) for n, r in latency.items()})


def _cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process and its children (nginx's worker), from /proc."""
    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return total


def _table(throughput: dict[str, dict[str, float]], latency: dict[str, dict[str, float]]) -> list[str]:
    cpu = all("cpu_us" in t for t in throughput.values())
    lines = [
        "| target | requests/s (32 conn.) | p50 ms | p99 ms | p50 ms (1 conn.) | p99 ms (1 conn.) | errors |"
        + (" CPU us/request |" if cpu else ""),
        "|---|---:|---:|---:|---:|---:|---:|" + ("---:|" if cpu else ""),
    ]
    for name in throughput:
        t, lat = throughput[name], latency[name]
        lines.append(
            f"| {name} | {t['rps']:.0f} | {t.get('p50_ms', 0):.2f} | {t.get('p99_ms', 0):.2f} | "
            f"{lat.get('p50_ms', 0):.3f} | {lat.get('p99_ms', 0):.3f} | {t['errors'] + lat['errors']:.0f} |"
            + (f" {t['cpu_us']:.1f} |" if cpu else "")
        )
    return lines


def _added(latency: dict[str, dict[str, float]], name: str, direct: str) -> tuple[float, float]:
    return (
        latency[name]["p50_ms"] - latency[direct]["p50_ms"],
        latency[name]["p99_ms"] - latency[direct]["p99_ms"],
    )


def write_results(throughput: dict[str, dict[str, float]], latency: dict[str, dict[str, float]]) -> None:
    nginx = throughput["nginx"]["rps"]
    lines = [
        "# api-gateway against nginx",
        "",
        f"Machine: {machine()}.",
        "",
        "`python -m bench gateway`: nginx and api-gateway proxy the same nginx backend (a small JSON body).",
        "The proxy under test is pinned to core 0 (one nginx worker; one uvicorn worker for the gateway, with its",
        "chassis metrics, JSON access log, route policy and in-memory rate limit); wrk and the backend share core 1.",
        f"Throughput: wrk 1 thread, 32 connections, {SECONDS} s. Latency: 1 connection, {LATENCY_SECONDS} s.",
        "CPU us/request: the proxy process's user + system CPU time over the throughput run divided by the requests",
        "served, the figure least disturbed by other work on the machine (its inverse is requests/s per core).",
        f"Medians of {ROUNDS} alternating rounds. `api-gateway (at REV)` is the same command on the source tree of an",
        "earlier revision, measured in the same run: `8e66a89`, the native and the ASGI path each with its own",
        "exchange (every edge rule written twice), before the one exchange core both now drive; `451ceba`, the",
        "gateway's own protocol before its per-request work was trimmed; `6cf1396`, the gateway on an aiohttp client",
        "behind the chassis middleware.",
        f"`{HELLO}` is no proxy at all: uvicorn answering the same body from a bare ASGI function, the floor",
        "under any gateway built on uvicorn's ASGI path.",
        "The machine is shared: absolute figures move between runs, the ratios measured side by side are what count.",
        "",
        *_table(throughput, latency),
        "",
    ]
    for name in [n for n in throughput if n.startswith("api-gateway")]:
        p50, p99 = _added(latency, name, "backend (direct)")
        per_core = throughput["nginx"]["cpu_us"] / throughput[name]["cpu_us"]
        lines.append(
            f"- {name}: throughput **{throughput[name]['rps'] / nginx:.0%} of nginx** (goal: at least 40 %), "
            f"{per_core:.0%} by CPU per request; added latency over the direct backend, 1 connection: "
            f"p50 **{p50:.3f} ms**, p99 {p99:.3f} ms (goal: p50 at most 0.3 ms)."
        )
    p50, p99 = _added(latency, "nginx", "backend (direct)")
    lines.append(f"- nginx: added p50 {p50:.3f} ms, p99 {p99:.3f} ms.")
    floor = throughput[HELLO]
    lines.append(
        f"- {HELLO}: {floor['rps'] / nginx:.0%} of nginx's proxying throughput, "
        f"{throughput['nginx']['cpu_us'] / floor['cpu_us']:.0%} by CPU per request."
    )
    lines.append("")
    target = RESULTS / "gateway.md"
    kept = ""
    if target.exists():
        previous = target.read_text()
        marker = previous.find("\n## Profile")
        kept = previous[marker:] if marker >= 0 else ""
    RESULTS.mkdir(parents=True, exist_ok=True)
    target.write_text("\n".join(lines) + kept)
    print("\n".join(lines))

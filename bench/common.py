"""What the benchmarks share: machine facts, starting servers, and driving wrk."""

from __future__ import annotations

import io
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


def machine() -> str:
    """A short description of the machine the figures come from."""
    cpu = "unknown CPU"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory_kib = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))  # type: ignore[union-attr]
    return (
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.system()} {platform.release()}, {cpu}, "
        f"{os.cpu_count()} cores, {memory_kib // 1024 // 1024} GiB, Python {platform.python_version()}"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def server(
    command: list[str], ready_url: str, env: dict[str, str] | None = None, cpu: int | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Start a server process (pinned to one core when `cpu` is given) and wait until `ready_url` answers."""
    if cpu is not None and shutil.which("taskset"):
        command = ["taskset", "-c", str(cpu), *command]
    process = subprocess.Popen(
        command, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(ready_url, timeout=1).status_code < 500:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise RuntimeError(f"{command} never answered {ready_url}")
        yield process
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


def wrk(
    url: str, *, seconds: int = 10, connections: int = 32, threads: int = 1, cpu: int | None = None
) -> dict[str, float]:
    """Closed-loop throughput and latency percentiles from wrk."""
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    if cpu is not None and shutil.which("taskset"):
        command = ["taskset", "-c", str(cpu), *command]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    result = {"rps": rps}
    for pct in ("50", "99"):
        match = re.search(rf"\s{pct}%\s+([\d.]+)(us|ms|s)", out)
        if match:
            value, unit = float(match.group(1)), match.group(2)
            result[f"p{pct}_ms"] = value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
    total = re.search(r"(\d+) requests in", out)
    result["requests"] = float(total.group(1)) if total else 0.0
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    result["errors"] = float(errors.group(1)) if errors else 0.0
    return result


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (a cost per request that other load does not skew)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def median_of(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def open_loop(
    urls: str | list[str], *, rate: float, seconds: float = 8, connections: int = 64, cpu: int | None = None
) -> dict[str, float]:
    """Fixed-rate load (bench/loadgen.py): achieved rate, latency percentiles from each request's due time."""
    command = [python(), "-m", "bench.loadgen", "--rate", str(rate), "--seconds", str(seconds)]
    command += ["--connections", str(connections), *([urls] if isinstance(urls, str) else urls)]
    if cpu is not None and shutil.which("taskset"):
        command = ["taskset", "-c", str(cpu), *command]
    out = subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT).stdout
    return {key: float(value) for key, value in json.loads(out).items()}


PG_ADMIN = os.environ.get("BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


@contextmanager
def pg_database(name: str) -> Iterator[str]:
    """A fresh PostgreSQL database for one benchmark, dropped afterwards; yields its SQLAlchemy URL."""
    import asyncio

    import asyncpg

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(PG_ADMIN)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    database = f"bench_{name}_{os.getpid()}"
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
    asyncio.run(admin(f'CREATE DATABASE "{database}"'))
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        yield f"{base}/{database}"
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))


def pin_backends(url: str, cpu: int) -> int:
    """Pin the PostgreSQL server processes serving the database of `url` to one core; returns how many.

    Only this benchmark's own backends (they end with its database): the server itself is left alone.
    """
    import asyncio

    import asyncpg

    async def backends() -> list[int]:
        conn = await asyncpg.connect(PG_ADMIN)
        try:
            rows = await conn.fetch("SELECT pid FROM pg_stat_activity WHERE datname = $1", url.rsplit("/", 1)[1])
        finally:
            await conn.close()
        return [row["pid"] for row in rows]

    pinned = 0
    for pid in asyncio.run(backends()):  # a backend may end in between (a closed connection): not counted
        pinned += subprocess.run(["taskset", "-cp", str(cpu), str(pid)], capture_output=True).returncode == 0
    return pinned


def memory_kib(pid: int) -> dict[str, int]:
    """Resident (RSS) and proportional (PSS) memory of one process, from /proc/<pid>/smaps_rollup."""
    values = {"rss": 0, "pss": 0}
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return values
    for key, field in (("rss", "Rss"), ("pss", "Pss")):
        match = re.search(rf"^{field}:\s+(\d+) kB", text, re.M)
        if match:
            values[key] = int(match.group(1))
    return values


def children(pid: int) -> list[int]:
    """`pid` and all its descendants (e.g. the python under a `taskset`)."""
    found = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [c for child in (task / "children").read_text().split() for c in children(int(child))]
        except OSError:
            continue
    return found


def fmt_ms(value: float) -> str:
    return f"{value:.2f}"


def python() -> str:
    return sys.executable


SERVICE_ENV = {
    "CONFIG_SERVER_URL": "",
    "DISCOVERY_URL": "",
    "OTEL_EXPORTER_OTLP_ENDPOINT": "",
    "REDIS_URL": "",
    "ECOMMERCE_LOG_LEVEL": "WARNING",
}


def component(name: str, port: int, *, env: dict[str, str] | None = None, cpu: int | None = None):  # type: ignore[no-untyped-def]
    """`ecommerce run <name>` on `port` as deployed (its full chassis), standalone: no registry, no config server."""
    from ecommerce import components

    spec = components.load_spec(name)
    command = [python(), "-m", "ecommerce", "run", name, "--port", str(port)]
    ready = f"http://127.0.0.1:{port}{spec.actuator_base}/health/readiness"
    return server(command, ready, env={**SERVICE_ENV, **(env or {})}, cpu=cpu)


def uvicorn(factory: str, port: int, *, env: dict[str, str] | None = None, cpu: int | None = None, ready: str = "/"):  # type: ignore[no-untyped-def]
    """One uvicorn worker (uvloop, httptools) serving `factory`."""
    command = [python(), "-m", "uvicorn", "--factory", factory, "--port", str(port), "--no-access-log"]
    command += ["--log-level", "warning", "--loop", "uvloop", "--http", "httptools"]
    return server(command, f"http://127.0.0.1:{port}{ready}", env=env, cpu=cpu)


KEPT_SECTIONS = ("## Notes", "## Before the fix")  # hand-kept: profiles, figures from before a fix


def write_result(name: str, lines: list[str]) -> None:
    """Write bench/results/<name>.md, keeping its hand-kept sections (from the first KEPT_SECTIONS heading on)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.md"
    kept = ""
    old = path.read_text() if path.exists() else ""
    starts = [old.index(heading) for heading in KEPT_SECTIONS if heading in old]
    if starts:
        kept = old[min(starts) :]
    path.write_text("\n".join(lines).rstrip("\n") + "\n" + ("\n" + kept if kept else ""))
    print("\n".join(lines))


def seed_catalog(url: str, products: int, *, categories: int = 10) -> None:
    """Fill a migrated product-service database with `products` products (ids from 1) in `categories` categories."""
    import asyncio

    import asyncpg

    async def fill() -> None:
        conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://", 1))
        try:
            await conn.execute("TRUNCATE products, categories RESTART IDENTITY CASCADE")
            await conn.execute(
                "INSERT INTO categories (category_id, category_title) "
                f"SELECT i, 'Category ' || i FROM generate_series(1, {categories}) AS i"
            )
            await conn.execute(
                "INSERT INTO products (product_id, category_id, product_title, image_url, sku, price_unit, quantity) "
                f"SELECT i, 1 + i % {categories}, 'Product ' || i, 'img/' || i || '.png', 'SKU-' || i, "
                f"(i % 1000) + 0.99, 1000 FROM generate_series(1, {products}) AS i"
            )
            for table, column in (("products", "product_id"), ("categories", "category_id")):
                await conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), MAX({column})) FROM {table}"
                )
            await conn.execute("VACUUM ANALYZE products")
            await conn.execute("VACUUM ANALYZE categories")
        finally:
            await conn.close()

    asyncio.run(fill())


def gateway_routes(workdir: Path, routes: dict[str, str]) -> Path:
    """A gateway route table sending /<service>/** to the given base URLs, GETs public, no effective rate limit."""
    document = {
        "gateway": {
            "defaults": {"rate-limit": {"rate": 1_000_000.0, "burst": 1_000_000}},
            "routes": [
                {"id": name, "path": f"/{name}/**", "service": name, "urls": [url]} for name, url in routes.items()
            ],
            "policy": [{"path": f"/{name}/**", "methods": ["GET", "HEAD"], "access": "public"} for name in routes],
        }
    }
    import yaml

    path = workdir / "routes.yml"
    path.write_text(yaml.safe_dump(document))
    return path


def baseline_src(workdir: Path, revision: str) -> Path | None:
    """The `src/` tree of an earlier `revision`, unpacked into `workdir` (None when the revision is unknown), for a
    benchmark that runs it side by side with this one."""
    archive = subprocess.run(["git", "archive", revision, "src"], cwd=ROOT, capture_output=True, check=False)
    if archive.returncode != 0:
        print(f"baseline {revision} not found: no column for it", file=sys.stderr)
        return None
    target = workdir / f"baseline-{revision}"
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(target, filter="data")
    return target / "src"

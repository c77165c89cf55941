"""Helpers shared by the tests: the real PostgreSQL, free ports, components started as real processes.

Importable from any test module as `shop_testing` (pytest puts tests/ on the path, see pyproject.toml).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() == "true"
POSTGRES_ADMIN_DSN = os.environ.get("TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


def require(condition: bool, reason: str) -> None:
    """Skip a test whose tool or server is missing, except in CI, where it fails."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: missing parts fail, they never skip)")
    pytest.skip(reason)


async def _postgres_reachable() -> bool:
    try:
        conn = await asyncpg.connect(POSTGRES_ADMIN_DSN, timeout=3)
    except (OSError, asyncpg.PostgresError):
        return False
    await conn.close()
    return True


@contextlib.asynccontextmanager
async def postgres_database() -> AsyncIterator[str]:
    """A fresh, uniquely named PostgreSQL database, dropped afterwards; yields its SQLAlchemy URL."""
    require(await _postgres_reachable(), f"PostgreSQL is not reachable at {POSTGRES_ADMIN_DSN}")
    name = f"test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(POSTGRES_ADMIN_DSN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base = POSTGRES_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        admin = await asyncpg.connect(POSTGRES_ADMIN_DSN)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RunningService:
    """A component started as a real process with `ecommerce run`."""

    def __init__(self, name: str, port: int, process: subprocess.Popen[bytes], log_path: Path) -> None:
        self.name = name
        self.port = port
        self.process = process
        self.log_path = log_path
        self.url = f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_service(
    name: str,
    *,
    port: int | None = None,
    env: dict[str, str] | None = None,
    data_dir: Path,
    health_path: str | None = None,
    timeout: float = 60.0,
) -> RunningService:
    """Start component `name` with `ecommerce run`, wait until it is ready, and return it."""
    from ecommerce import components

    spec = components.load_spec(name)
    port = port or free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / f"{name}-{port}.log"
    full_env = {**os.environ, "ECOMMERCE_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1", **(env or {})}
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "ecommerce", "run", name, "--port", str(port)],
            env=full_env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
    service = RunningService(name, port, process, log_path)
    url = f"{service.url}{health_path or spec.actuator_base + '/health/readiness'}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}:\n{service.logs()[-3000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1).status_code == 200:
                return service
        time.sleep(0.2)
    service.stop()
    raise RuntimeError(f"{name} not ready after {timeout} s:\n{service.logs()[-3000:]}")

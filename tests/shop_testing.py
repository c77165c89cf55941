"""Helpers shared by the tests: the real PostgreSQL, free ports, components started as real processes.

Importable from any test module as `shop_testing` (pytest puts tests/ on the path, see pyproject.toml).
"""

from __future__ import annotations

import base64
import contextlib
import functools
import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from ecommerce.chassis.identity import SERVICE_TOKEN_HEADER, MeshSecrets, ServiceTokens, dev_secrets
from ecommerce.chassis.security import USER_TOKEN_AUDIENCE, USER_TOKEN_ISSUER, JwksCache, TokenVerifier

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() == "true"
POSTGRES_ADMIN_DSN = os.environ.get("TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


# --- credentials for tests ---------------------------------------------------------------------------------
# One set of identity secrets per test session (never a real environment's), given to every component a test
# starts, so the components prove themselves to each other and the tests can speak as any of them.
TEST_SECRETS = {
    "SERVICE_KEYS": f"test:{secrets.token_urlsafe(32)}",
    "OPERATOR_PASSWORD": secrets.token_urlsafe(16),
    "PROMETHEUS_PASSWORD": secrets.token_urlsafe(16),
}
_TEST_KID = "test-user-key"


def mesh_secrets() -> MeshSecrets:
    """The session's identity secrets, parsed."""
    return MeshSecrets.parse(
        TEST_SECRETS["SERVICE_KEYS"], TEST_SECRETS["OPERATOR_PASSWORD"], TEST_SECRETS["PROMETHEUS_PASSWORD"]
    )


def service_headers(caller: str, audience: str) -> dict[str, str]:
    """Headers proving `caller` (a component name) to `audience` (the component called)."""
    return {SERVICE_TOKEN_HEADER: ServiceTokens(mesh_secrets(), caller).token_for(audience)}


def basic_headers(user: str, password: str) -> dict[str, str]:
    """An HTTP Basic `Authorization` header."""
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def data_folder_secrets(data_dir: Path) -> dict[str, str]:
    """The identity secrets of a shop on `data_dir` (`ecommerce up` generates them into identity.DEV_SECRETS_FILE
    before any component starts; created here when nothing has yet), for tests of a shop that does not run on
    TEST_SECRETS."""
    return dev_secrets(data_dir)


def operator_headers(secrets_: Mapping[str, str] = TEST_SECRETS) -> dict[str, str]:
    """The operator's management credential (of the session's secrets unless others are given)."""
    return basic_headers("operator", secrets_["OPERATOR_PASSWORD"])


def prometheus_headers(secrets_: Mapping[str, str] = TEST_SECRETS) -> dict[str, str]:
    """Prometheus' scrape credential (of the session's secrets unless others are given)."""
    return basic_headers("prometheus", secrets_["PROMETHEUS_PASSWORD"])


@functools.cache
def _user_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwks_document() -> dict[str, Any]:
    """The public half of the tests' user-token key, as the storefront publishes its keys."""
    jwk = jwt.algorithms.RSAAlgorithm.to_jwk(_user_key().public_key(), as_dict=True)
    return {"keys": [{**jwk, "kid": _TEST_KID, "alg": "RS256", "use": "sig"}]}


def trusting_verifier() -> TokenVerifier:
    """A verifier trusting the tests' user-token key (install as `app.state.token_verifier`)."""
    return TokenVerifier(JwksCache(document=jwks_document()))


def user_token(
    user_id: int, username: str | None = None, *, roles: tuple[str, ...] = ("ROLE_USER",), **claims: Any
) -> str:
    """A user token as the storefront signs them (override any claim, e.g. `exp=` or `iss=`; None drops it)."""
    now = int(time.time())
    body = {
        "sub": username or f"user{user_id}",
        "userId": user_id,
        "roles": list(roles),
        "iat": now,
        "exp": now + 3600,
        "jti": uuid.uuid4().hex,
        "iss": USER_TOKEN_ISSUER,
        "aud": USER_TOKEN_AUDIENCE,
        **claims,
    }
    body = {name: value for name, value in body.items() if value is not None}
    return jwt.encode(body, _user_key(), algorithm="RS256", headers={"kid": _TEST_KID})


def user_headers(user_id: int, username: str | None = None, **claims: Any) -> dict[str, str]:
    """A shopper's bearer token."""
    return {"Authorization": f"Bearer {user_token(user_id, username, **claims)}"}


@functools.cache
def jwks_url() -> str:
    """A JWKS endpoint publishing the tests' user-token key, for components started as processes (started once)."""
    document = json.dumps(jwks_document()).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(document)))
            self.end_headers()
            self.wfile.write(document)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True, name="test-jwks").start()
    return f"http://127.0.0.1:{server.server_address[1]}/jwks.json"


def admin_headers() -> dict[str, str]:
    """An administrator's bearer token (the seeded admin is user 3)."""
    return {"Authorization": f"Bearer {user_token(3, 'admin', roles=('ROLE_ADMIN',))}"}


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
    full_env = {
        **os.environ,
        **TEST_SECRETS,
        "JWT_JWKS_URL": jwks_url(),  # the tests' user tokens are good here, unless `env` names the storefront's
        "ECOMMERCE_DATA_DIR": str(data_dir),
        "PYTHONUNBUFFERED": "1",
        **(env or {}),
    }
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

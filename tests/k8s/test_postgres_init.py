"""The chart's PostgreSQL init script against the real server: each role owns its database, can create tables
there (PostgreSQL 15 no longer lets everyone create in schema public) and cannot open another service's database."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator

import pytest

from .conftest import CHART, missing_tool

pytestmark = pytest.mark.postgres

SCRIPT = CHART / "files" / "postgres" / "init-databases.sh"
HOST = os.environ.get("PGHOST", "127.0.0.1")


def psql(user: str, database: str, sql: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["psql", "-h", HOST, "-U", user, "-d", database, "-v", "ON_ERROR_STOP=1", "-Atc", sql],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


@pytest.fixture
def databases() -> Iterator[dict[str, str]]:
    if shutil.which("psql") is None or psql("postgres", "postgres", "select 1").returncode != 0:
        missing_tool(f"a PostgreSQL server on {HOST} with the postgres superuser")
    suffix = secrets.token_hex(4)
    names = {f"k8s_{suffix}_{n}db": f"k8s_{suffix}_{n}" for n in ("a", "b")}
    try:
        yield names
    finally:
        for db, role in names.items():
            psql("postgres", "postgres", f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
            psql("postgres", "postgres", f"DROP ROLE IF EXISTS {role}")


def test_init_script_creates_owned_databases_isolated_from_each_other(databases: dict[str, str]) -> None:
    entries = " ".join(f"{db}:{role}:PW_{i}" for i, (db, role) in enumerate(databases.items()))
    env = {**os.environ, "POSTGRES_USER": "postgres", "PGHOST": HOST, "ECOMMERCE_DATABASES": entries}
    env.update({f"PW_{i}": secrets.token_hex(8) for i in range(len(databases))})
    for _ in range(2):  # idempotent: a second run changes nothing and fails on nothing
        result = subprocess.run(["sh", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60, check=False)
        assert result.returncode == 0, result.stderr
    (db_a, role_a), (db_b, role_b) = databases.items()
    created = psql(role_a, db_a, "CREATE TABLE orders (id int primary key); INSERT INTO orders VALUES (1); SELECT 1")
    assert created.returncode == 0, created.stderr
    assert (
        psql(
            "postgres", "postgres", f"SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '{db_a}'"
        ).stdout.strip()
        == role_a
    )
    denied = psql(role_a, db_b, "SELECT 1")
    assert denied.returncode != 0
    assert "permission denied" in denied.stderr


def test_init_script_fails_when_a_password_variable_is_missing(databases: dict[str, str]) -> None:
    (db, role), *_ = databases.items()
    env = {**os.environ, "POSTGRES_USER": "postgres", "PGHOST": HOST, "ECOMMERCE_DATABASES": f"{db}:{role}:NOPE_UNSET"}
    env.pop("NOPE_UNSET", None)
    result = subprocess.run(["sh", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode != 0
    assert "NOPE_UNSET is not set" in result.stderr

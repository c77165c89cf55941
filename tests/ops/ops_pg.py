"""PostgreSQL helpers for the operations tests (imported by module name: pytest puts this folder on sys.path)."""

from __future__ import annotations

import os
import subprocess

PG_URL = os.environ.get("ECOMMERCE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432")
PG_ENV = {"PGHOST": "127.0.0.1", "PGPORT": "5432", "PGUSER": "postgres"}


def psql(sql: str, database: str = "postgres") -> str:
    """Run SQL on the test server and return psql's unaligned output."""
    result = subprocess.run(
        ["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-d", database, "-c", sql],
        env={**os.environ, **PG_ENV},
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(f"psql failed: {result.stderr}")
    return result.stdout.strip()

"""Fixtures for the backup/restore tests: the machine's PostgreSQL and throwaway databases on it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from ops_pg import PG_URL, psql

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))


def _missing(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_server() -> str:
    for tool in ("psql", "pg_dump", "pg_restore"):
        if shutil.which(tool) is None:
            _missing(f"{tool} is not installed")
    ready = subprocess.run(["pg_isready", "-h", "127.0.0.1", "-p", "5432", "-q"], check=False)
    if ready.returncode != 0:
        _missing("PostgreSQL is not reachable at 127.0.0.1:5432")
    return PG_URL


@pytest.fixture
def make_database(postgres_server: str) -> Iterator[Callable[[str], str]]:
    """Create uniquely named databases; drop them (and any restore leftovers) afterwards."""
    created: list[str] = []
    run_id = uuid.uuid4().hex[:8]

    def make(label: str) -> str:
        name = f"opstest_{run_id}_{label}"
        psql(f'CREATE DATABASE "{name}"')
        created.append(name)
        return name

    yield make
    for name in created:
        for variant in (name, f"{name[:40]}__restoring", f"{name[:40]}__before_restore"):
            psql(f'DROP DATABASE IF EXISTS "{variant}" WITH (FORCE)')

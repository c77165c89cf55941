"""What one purchase costs the shop, counted from outside so every revision is counted the same way.

- HTTP calls: each component's Prometheus counters (`http_server_requests_seconds_count` by route for the
  callee, `http_client_requests_seconds_count` by peer for the caller), before and after a few purchases;
- SQL: the server's own statement log (`log_statement = all` set on the fresh bench databases only, for the
  accounting run, never for the timed sweep), lines per database; transactions and tuples from
  pg_stat_database;
- bytes: each process's `rchar`/`wchar` from /proc/<pid>/io (sockets included: the processes read no files);
- CPU: /proc/<pid>/stat, as the sweep does.
Every figure includes what the shop does in the background during the window (relays, reconcilers, pollers).
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from prometheus_client.parser import text_string_to_metric_families

from bench.common import PG_ADMIN, cpu_seconds
from ecommerce import components
from ecommerce.chassis.identity import DEV_SECRETS_FILE

PG_LOG = Path("/var/log/postgresql/postgresql-15-main.log")
_STATEMENT = re.compile(r"\[\d+\] \S*@(\S+) LOG:  (?:statement|execute [^:]*): (.*)")
_STAT_COLUMNS = ("xact_commit", "xact_rollback", "tup_returned", "tup_fetched", "tup_inserted", "tup_updated")


@dataclass
class Snapshot:
    server: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # (callee, method, uri)
    client: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # (caller, callee, method)
    pg: dict[str, dict[str, int]] = field(default_factory=dict)
    io: dict[str, tuple[int, int]] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)
    log_offset: int = 0


def operator_auth(data_dir: Path | None) -> dict[str, str]:
    """The operator's credential of a shop started on `data_dir` (earlier revisions need none and ignore it)."""
    path = data_dir / DEV_SECRETS_FILE if data_dir is not None else None
    password = json.loads(path.read_text()).get("OPERATOR_PASSWORD", "") if path and path.exists() else ""
    token = base64.b64encode(f"operator:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def take(pids: dict[str, int], databases: dict[str, str], auth: dict[str, str]) -> Snapshot:
    """Counters of every component, database and process now."""
    snap = Snapshot()
    asyncio.run(_metrics(snap, auth))
    asyncio.run(_pg(snap, databases))
    for name, pid in pids.items():
        snap.cpu[name] = cpu_seconds(pid)
        snap.io[name] = _io(pid)
    snap.log_offset = PG_LOG.stat().st_size if PG_LOG.exists() else 0
    return snap


async def _metrics(snap: Snapshot, auth: dict[str, str]) -> None:
    async with httpx.AsyncClient(timeout=5) as client:
        for name in components.names():
            spec = components.load_spec(name)
            url = f"http://127.0.0.1:{spec.port}{spec.actuator_base}/prometheus"
            try:
                answer = await client.get(url, headers=auth)
            except httpx.HTTPError:
                continue
            if answer.status_code != 200:
                continue
            for family in text_string_to_metric_families(answer.text):
                for sample in family.samples:
                    labels = sample.labels
                    if sample.name == "http_server_requests_seconds_count":
                        snap.server[(name, labels.get("method", ""), labels.get("uri", ""))] += int(sample.value)
                    elif sample.name == "http_client_requests_seconds_count":
                        snap.client[(name, labels.get("peer", ""), labels.get("method", ""))] += int(sample.value)


async def _pg(snap: Snapshot, databases: dict[str, str]) -> None:
    await asyncio.sleep(1.5)  # backends flush their statistics at most once a second
    names = [url.rsplit("/", 1)[1] for url in databases.values()]
    conn = await asyncpg.connect(PG_ADMIN)
    try:
        rows = await conn.fetch(
            f"SELECT datname, {', '.join(_STAT_COLUMNS)} FROM pg_stat_database WHERE datname = ANY($1)", names
        )
    finally:
        await conn.close()
    snap.pg = {row["datname"]: {column: int(row[column]) for column in _STAT_COLUMNS} for row in rows}


def _io(pid: int) -> tuple[int, int]:
    try:
        fields = dict(line.split(": ") for line in Path(f"/proc/{pid}/io").read_text().splitlines())
    except OSError:
        return (0, 0)
    return int(fields["rchar"]), int(fields["wchar"])


def statements(since: int, databases: dict[str, str]) -> Counter[tuple[str, str]]:
    """(database, statement's first words) -> how many, from the server log after byte `since`."""
    names = {url.rsplit("/", 1)[1] for url in databases.values()}
    counts: Counter[tuple[str, str]] = Counter()
    if not PG_LOG.exists():
        return counts
    current: tuple[str, str] | None = None  # a statement's lines after its first start with a tab
    with PG_LOG.open("rb") as log:
        log.seek(since)
        for raw in log:
            line = raw.decode(errors="replace")
            if line.startswith("\t") and current is not None:
                current = (current[0], f"{current[1]} {line.strip()}")
                continue
            if current is not None:
                counts[(current[0], _shape(current[1]))] += 1
                current = None
            match = _STATEMENT.search(line)
            if match and match.group(1) in names:
                current = (match.group(1), match.group(2))
    if current is not None:
        counts[(current[0], _shape(current[1]))] += 1
    return counts


def _shape(sql: str) -> str:
    words = sql.strip().split()
    if not words:
        return "(empty)"
    head = words[0].upper()
    if head in ("SELECT", "DELETE") and "FROM" in (w.upper() for w in words):
        table = words[[w.upper() for w in words].index("FROM") + 1]
        return f"{head} {table}"
    if head in ("INSERT", "UPDATE") and len(words) > 2:
        return f"{head} {words[2] if head == 'INSERT' else words[1]}"
    return head if head != ";" else "; (ping)"


async def log_all_statements(databases: dict[str, str], on: bool) -> None:
    """Set (or reset) `log_statement` on the bench's own databases: sessions opened afterwards follow it."""
    conn = await asyncpg.connect(PG_ADMIN)
    try:
        for url in databases.values():
            name = url.rsplit("/", 1)[1]
            value = "SET log_statement = 'all'" if on else "RESET log_statement"
            await conn.execute(f'ALTER DATABASE "{name}" {value}')
    finally:
        await conn.close()


def difference(before: Snapshot, after: Snapshot, purchases: int, databases: dict[str, str]) -> dict[str, Any]:
    """Per purchase: calls by callee and route, calls by caller and callee, SQL, bytes and CPU by process."""
    n = max(purchases, 1)
    server = {k: (v - before.server.get(k, 0)) / n for k, v in after.server.items() if v - before.server.get(k, 0)}
    client = {k: (v - before.client.get(k, 0)) / n for k, v in after.client.items() if v - before.client.get(k, 0)}
    pg = {
        name: {c: (values[c] - before.pg.get(name, {}).get(c, 0)) / n for c in _STAT_COLUMNS}
        for name, values in after.pg.items()
    }
    io = {
        name: ((r - before.io.get(name, (0, 0))[0]) / n, (w - before.io.get(name, (0, 0))[1]) / n)
        for name, (r, w) in after.io.items()
    }
    cpu = {name: (seconds - before.cpu.get(name, 0.0)) * 1000 / n for name, seconds in after.cpu.items()}
    sql = {key: count / n for key, count in statements(before.log_offset, databases).items()}
    return {"server": server, "client": client, "pg": pg, "io": io, "cpu": cpu, "sql": sql, "purchases": purchases}

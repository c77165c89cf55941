"""PostgreSQL: consistent pg_dump with per-table statistics, verification, and a restore that swaps in only
a copy that was checked against the backup's manifest."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import asyncpg

from ecommerce import components
from ecommerce.ops.errors import OpsError
from ecommerce.ops.manifest import TableStats

SHOP_DATABASES = tuple(c.database.name for c in components.TABLE if c.database is not None)
MAINTENANCE_DB = "postgres"
_TABLES_SQL = """
SELECT n.nspname, c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg_toast%' AND NOT c.relispartition
ORDER BY 1, 2
"""


@dataclasses.dataclass(frozen=True)
class ConnParams:
    """Where the server is; empty fields fall back to libpq's PG* environment variables."""

    host: str | None = None
    port: int | None = None
    user: str | None = None
    password: str | None = None

    @classmethod
    def from_url(cls, url: str) -> ConnParams:
        parts = urlsplit(url)
        if parts.scheme.split("+")[0] not in ("postgresql", "postgres"):
            raise OpsError(f"not a PostgreSQL URL: {parts.scheme}://...", exit_code=2)
        return cls(
            host=parts.hostname,
            port=parts.port,
            user=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )

    def env(self) -> dict[str, str]:
        """Environment for pg_dump/pg_restore: credentials never go on a command line."""
        env = dict(os.environ)
        for key, value in (("PGHOST", self.host), ("PGPORT", self.port), ("PGUSER", self.user)):
            if value is not None:
                env[key] = str(value)
        if self.password is not None:
            env["PGPASSWORD"] = self.password
        return env

    async def connect(self, database: str) -> asyncpg.Connection:
        env = self.env()
        try:
            return await asyncpg.connect(
                host=env.get("PGHOST", "localhost"),
                port=int(env.get("PGPORT", "5432")),
                user=env.get("PGUSER", "postgres"),
                password=env.get("PGPASSWORD"),
                database=database,
                timeout=10,
            )
        except (OSError, asyncpg.PostgresError, TimeoutError) as error:
            where = f"{env.get('PGHOST', 'localhost')}:{env.get('PGPORT', '5432')}"
            raise OpsError(f"cannot connect to PostgreSQL at {where}, database {database}: {error}") from error


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise OpsError(f"{name} is not installed (the PostgreSQL client tools are needed)")
    return path


async def list_databases(params: ConnParams) -> list[str]:
    """Every database that can be backed up: not a template, not the maintenance database."""
    conn = await params.connect(MAINTENANCE_DB)
    try:
        rows = await conn.fetch(
            "SELECT datname FROM pg_database WHERE NOT datistemplate AND datallowconn AND datname <> $1 ORDER BY 1",
            MAINTENANCE_DB,
        )
    finally:
        await conn.close()
    return [row["datname"] for row in rows]


async def table_stats(conn: asyncpg.Connection) -> dict[str, TableStats]:
    """Rows and an order-independent md5 of every user table, as seen by `conn`'s snapshot."""
    stats = {}
    for row in await conn.fetch(_TABLES_SQL):
        qualified = f"{quote_ident(row['nspname'])}.{quote_ident(row['relname'])}"
        count, checksum = await conn.fetchrow(
            f"SELECT count(*), coalesce(md5(string_agg(md5(t::text), '' ORDER BY md5(t::text))), '') "
            f"FROM {qualified} AS t"
        )
        stats[f"{row['nspname']}.{row['relname']}"] = TableStats(rows=count, checksum=checksum)
    return stats


async def dump(params: ConnParams, database: str, target: Path) -> dict[str, Any]:
    """pg_dump -Fc `database` into `target` and return the facts for its manifest.

    The statistics and the dump read the same exported snapshot, so they describe exactly the same data.
    """
    pg_dump = require_tool("pg_dump")
    conn = await params.connect(database)
    try:
        transaction = conn.transaction(isolation="repeatable_read", readonly=True)
        await transaction.start()
        try:
            snapshot = await conn.fetchval("SELECT pg_export_snapshot()")
            await _run([pg_dump, "-Fc", f"--snapshot={snapshot}", "-f", str(target), "-d", database], params)
            stats = await table_stats(conn)
        finally:
            await transaction.rollback()
        meta = await conn.fetchrow(
            "SELECT pg_get_userbyid(datdba) AS owner, current_setting('server_version') AS version "
            "FROM pg_database WHERE datname = current_database()"
        )
        acl = await _database_acl(conn, database)
    finally:
        await conn.close()
    return {"tables": stats, "owner": meta["owner"], "server_version": meta["version"], "database_acl": acl}


async def check_archive(path: Path) -> None:
    """pg_restore --list must read the whole table of contents."""
    pg_restore = require_tool("pg_restore")
    process = await asyncio.create_subprocess_exec(
        pg_restore, "--list", str(path), stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    _, err = await process.communicate()
    if process.returncode != 0:
        raise OpsError(f"{path.name}: pg_restore cannot read the archive: {err.decode().strip()}")


async def restore(
    params: ConnParams,
    dump_file: Path,
    database: str,
    *,
    expected: dict[str, TableStats],
    owner: str | None,
    acl: list[list[str]] | None,
    keep_previous: bool = False,
    no_owner: bool = False,
) -> dict[str, TableStats]:
    """Restore into a scratch database, compare it with `expected`, then swap it in for `database`."""
    from ecommerce.ops.manifest import compare_tables

    scratch = f"{database[:40]}__restoring"
    maint = await params.connect(MAINTENANCE_DB)
    try:
        await _drop(maint, scratch)
        role = owner if owner and await maint.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", owner) else None
        owner_sql = f" OWNER {quote_ident(role)}" if role else ""
        await maint.execute(f"CREATE DATABASE {quote_ident(scratch)}{owner_sql} TEMPLATE template0")
        args = [require_tool("pg_restore"), "--exit-on-error", "--single-transaction", "-d", scratch]
        if role is None:  # the backup's owner role does not exist here: restore as the connecting user
            args += ["--no-owner", "--no-acl"]
        elif no_owner:
            args.append("--no-owner")
        try:
            await _run([*args, str(dump_file)], params)
            check = await params.connect(scratch)
            try:
                actual = await table_stats(check)
            finally:
                await check.close()
            problems = compare_tables(expected, actual)
            if problems:
                raise OpsError("restored copy does not match the backup: " + "; ".join(problems))
            await _apply_acl(maint, scratch, acl)
        except BaseException:
            await _drop(maint, scratch)
            raise
        await _swap(maint, scratch, database, keep_previous=keep_previous)
    finally:
        await maint.close()
    return actual


async def _swap(maint: asyncpg.Connection, scratch: str, database: str, *, keep_previous: bool) -> None:
    exists = await maint.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
    if not exists:
        await maint.execute(f"ALTER DATABASE {quote_ident(scratch)} RENAME TO {quote_ident(database)}")
        return
    previous = f"{database[:40]}__before_restore"
    await _drop(maint, previous)
    await maint.execute(f"ALTER DATABASE {quote_ident(database)} ALLOW_CONNECTIONS false")
    await _terminate(maint, database)
    await maint.execute(f"ALTER DATABASE {quote_ident(database)} RENAME TO {quote_ident(previous)}")
    try:
        await maint.execute(f"ALTER DATABASE {quote_ident(scratch)} RENAME TO {quote_ident(database)}")
    except asyncpg.PostgresError:
        await maint.execute(f"ALTER DATABASE {quote_ident(previous)} RENAME TO {quote_ident(database)}")
        await maint.execute(f"ALTER DATABASE {quote_ident(database)} ALLOW_CONNECTIONS true")
        raise
    if not keep_previous:
        await _drop(maint, previous)


async def _terminate(maint: asyncpg.Connection, database: str) -> None:
    await maint.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
        database,
    )


async def _drop(maint: asyncpg.Connection, database: str) -> None:
    await maint.execute(f"DROP DATABASE IF EXISTS {quote_ident(database)} WITH (FORCE)")


async def _database_acl(conn: asyncpg.Connection, database: str) -> list[list[str]] | None:
    """Database-level grants (pg_dump keeps them only with --create, so the manifest carries them)."""
    if await conn.fetchval("SELECT datacl IS NULL FROM pg_database WHERE datname = $1", database):
        return None
    rows = await conn.fetch(
        "SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END AS grantee, "
        "a.privilege_type FROM pg_database d, aclexplode(d.datacl) a WHERE d.datname = $1 ORDER BY 1, 2",
        database,
    )
    return [[row["grantee"], row["privilege_type"]] for row in rows]


async def _apply_acl(maint: asyncpg.Connection, database: str, acl: list[list[str]] | None) -> None:
    if acl is None:
        return
    target = quote_ident(database)
    await maint.execute(f"REVOKE ALL ON DATABASE {target} FROM PUBLIC")
    for grantee, privilege in acl:
        if privilege not in ("CONNECT", "CREATE", "TEMPORARY"):
            continue
        if grantee != "PUBLIC" and not await maint.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", grantee):
            continue
        who = "PUBLIC" if grantee == "PUBLIC" else quote_ident(grantee)
        await maint.execute(f"GRANT {privilege} ON DATABASE {target} TO {who}")


async def _run(args: list[str], params: ConnParams) -> None:
    process = await asyncio.create_subprocess_exec(
        *args, env=params.env(), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    _, err = await process.communicate()
    if process.returncode != 0:
        tool = Path(args[0]).name
        raise OpsError(f"{tool} failed (exit {process.returncode}): {err.decode().strip()}")

"""Back up, verify, list, prune and restore the shop's databases (PostgreSQL or the local SQLite files)."""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections.abc import Callable, Iterable
from pathlib import Path

from ecommerce.ops import postgres, sqlite
from ecommerce.ops.errors import OpsError
from ecommerce.ops.manifest import (
    DUMP_SUFFIXES,
    Manifest,
    check_checksum,
    checksum_path,
    manifest_path,
    new_dump_path,
    parse_dump_name,
    read_checksum,
    read_manifest,
    utc_now,
    write_checksum,
    write_manifest,
)

Log = Callable[[str], None]


@dataclasses.dataclass(frozen=True)
class Target:
    """Which server (PostgreSQL connection) or which folder of SQLite files a command works on."""

    engine: str  # "postgresql" | "sqlite"
    params: postgres.ConnParams = postgres.ConnParams()
    data_dir: Path = Path(".data")

    @classmethod
    def resolve(cls, *, engine: str, url: str | None, data_dir: Path) -> Target:
        """auto: a URL decides; else PGHOST/PGDATABASE in the environment mean PostgreSQL; else SQLite."""
        if url and url.startswith("sqlite"):
            path = url.split(":///", 1)[-1] if ":///" in url else data_dir
            return cls(engine="sqlite", data_dir=Path(path))
        if engine == "auto":
            engine = "postgresql" if url or os.environ.get("PGHOST") or os.environ.get("PGDATABASE") else "sqlite"
        if engine == "postgresql":
            params = postgres.ConnParams.from_url(url) if url else postgres.ConnParams()
            return cls(engine="postgresql", params=params, data_dir=data_dir)
        return cls(engine="sqlite", data_dir=data_dir)


@dataclasses.dataclass(frozen=True)
class BackupResult:
    path: Path
    manifest: Manifest


def backup(
    target: Target,
    directory: Path,
    *,
    databases: Iterable[str] = (),
    everything: bool = False,
    keep: int = 0,
    log: Log = lambda _: None,
) -> list[BackupResult]:
    """Dump each selected database into `directory`, checksum and verify it, then apply retention."""
    directory.mkdir(parents=True, exist_ok=True)
    names = _select(target, list(databases), everything)
    results = []
    for name in names:
        log(f"backing up {name} ({target.engine})")
        result = _backup_one(target, directory, name)
        log(f"{result.path.name}: {len(result.manifest.tables)} tables, {result.manifest.total_rows} rows, verified")
        results.append(result)
        if keep > 0:
            for removed in prune(directory, name, keep=keep):
                log(f"retention: removed {removed.name}")
    return results


def verify(dump: Path) -> Manifest:
    """Checksum, manifest and a full read of the archive; raise OpsError if anything is wrong."""
    digest = check_checksum(dump)
    manifest = read_manifest(dump)
    if manifest.sha256 != digest:
        raise OpsError(f"{dump.name}: manifest records a different checksum than the file has")
    if manifest.engine == "postgresql":
        asyncio.run(postgres.check_archive(dump))
    else:
        sqlite.check_file(dump)
    return manifest


def restore(
    target: Target,
    dump: Path,
    *,
    database: str | None = None,
    keep_previous: bool = False,
    no_owner: bool = False,
    log: Log = lambda _: None,
) -> Manifest:
    """Verify `dump`, restore it over `database` (default: the one it came from) and compare every table."""
    manifest = verify(dump)
    name = database or manifest.database
    log(f"{dump.name} verified ({manifest.total_rows} rows in {len(manifest.tables)} tables); restoring into {name}")
    if manifest.engine == "postgresql":
        if target.engine != "postgresql":
            raise OpsError(f"{dump.name} is a PostgreSQL dump; give --url or PG* variables for the server")
        asyncio.run(
            postgres.restore(
                target.params,
                dump,
                name,
                expected=manifest.tables,
                owner=manifest.owner,
                acl=manifest.database_acl,
                keep_previous=keep_previous,
                no_owner=no_owner,
            )
        )
    else:
        source_name = Path(manifest.source).name if manifest.source and database is None else f"{name}.db"
        existing = sqlite.discover(target.data_dir).get(name)
        sqlite.restore(
            dump, existing or target.data_dir / source_name, expected=manifest.tables, keep_previous=keep_previous
        )
    log(f"{name} restored: every table's row count and checksum match the backup")
    return manifest


def list_backups(directory: Path) -> list[tuple[Path, Manifest | None, str]]:
    """Every dump in `directory`, newest first, with its manifest (if readable) and a checksum status."""
    if not directory.is_dir():
        return []
    entries = []
    for path in directory.iterdir():
        if path.suffix not in DUMP_SUFFIXES or parse_dump_name(path) is None:
            continue
        try:
            manifest: Manifest | None = read_manifest(path)
        except OpsError:
            manifest = None
        try:
            check_checksum(path)
            status = "ok"
        except OpsError:
            status = "CORRUPT" if checksum_path(path).exists() else "NO-CHECKSUM"
        entries.append((path, manifest, status))
    entries.sort(key=lambda entry: (entry[1].created_at if entry[1] else "", entry[0].name), reverse=True)
    return entries


def prune(directory: Path, database: str, *, keep: int) -> list[Path]:
    """Delete all but the newest `keep` backups of `database` (dump, checksum and manifest together)."""
    mine = [entry for entry in list_backups(directory) if _database_of(entry) == database]
    removed = []
    for path, _, _ in mine[keep:]:
        for companion in (path, checksum_path(path), manifest_path(path)):
            companion.unlink(missing_ok=True)
        removed.append(path)
    return removed


def resolve_dump(name: str, directory: Path) -> Path:
    """A dump given as a path, or as a file name inside the backup directory."""
    path = Path(name)
    if path.exists() or path.is_absolute():
        return path
    return directory / path.name


def _database_of(entry: tuple[Path, Manifest | None, str]) -> str | None:
    path, manifest, _ = entry
    if manifest is not None:
        return manifest.database
    parsed = parse_dump_name(path)
    return parsed[0] if parsed else None


def _select(target: Target, databases: list[str], everything: bool) -> list[str]:
    if target.engine == "sqlite":
        available = sqlite.discover(target.data_dir)
        if not available:
            raise OpsError(f"no SQLite databases in {target.data_dir}")
        chosen = databases or list(available)
        missing = [name for name in chosen if name not in available]
        if missing:
            raise OpsError(f"no such database in {target.data_dir}: {', '.join(missing)}")
        return chosen
    available_pg = asyncio.run(postgres.list_databases(target.params))
    if everything and not databases:
        return available_pg
    chosen = databases or [name for name in postgres.SHOP_DATABASES if name in available_pg]
    if not chosen:
        raise OpsError("none of the shop's databases exist on this server; name them with --database or use --all")
    missing = [name for name in chosen if name not in available_pg]
    if missing:
        raise OpsError(f"no such database on the server: {', '.join(missing)}")
    return chosen


def _backup_one(target: Target, directory: Path, name: str) -> BackupResult:
    now = utc_now()
    suffix = ".dump" if target.engine == "postgresql" else ".sqlite"
    path = new_dump_path(directory, name, suffix, now)
    partial = path.with_name(path.name + ".partial")
    try:
        if target.engine == "postgresql":
            facts = asyncio.run(postgres.dump(target.params, name, partial))
            source = None
        else:
            source_path = sqlite.discover(target.data_dir)[name]
            facts = {"tables": sqlite.dump(source_path, partial)}
            source = str(source_path)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    digest = write_checksum(path)
    manifest = Manifest(
        database=name,
        engine=target.engine,
        file=path.name,
        sha256=digest,
        size=path.stat().st_size,
        created_at=now.isoformat(),
        source=source,
        **facts,
    )
    write_manifest(path, manifest)
    verify(path)
    if read_checksum(path) != digest:
        raise OpsError(f"{path.name}: checksum changed while writing")
    return BackupResult(path=path, manifest=manifest)

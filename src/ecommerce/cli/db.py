"""`ecommerce db`: back up, verify, list and restore the shop's databases (PostgreSQL or the local SQLite files)."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from ecommerce.ops import backup as ops_backup
from ecommerce.ops.errors import OpsError

app = typer.Typer(name="db", help="Back up, verify, list and restore the shop's databases.", no_args_is_help=True)


class Engine(StrEnum):
    auto = "auto"
    postgresql = "postgresql"
    sqlite = "sqlite"


UrlOpt = Annotated[
    str | None,
    typer.Option(
        "--url",
        envvar="ECOMMERCE_BACKUP_URL",
        help="postgresql://user@host:port or sqlite:///dir; default: PGHOST/PGPORT/PGUSER/PGPASSWORD.",
    ),
]
DirOpt = Annotated[
    Path | None,
    typer.Option("--dir", envvar="ECOMMERCE_BACKUP_DIR", help="Backup directory (default: <data-dir>/backups)."),
]
DataDirOpt = Annotated[
    Path, typer.Option("--data-dir", envvar="ECOMMERCE_DATA_DIR", help="Where the local SQLite files live.")
]
EngineOpt = Annotated[
    Engine, typer.Option("--engine", help="auto: a URL or PGHOST/PGDATABASE mean PostgreSQL, otherwise SQLite.")
]


@app.command("backup")
def backup_command(
    database: Annotated[
        list[str] | None,
        typer.Option(
            "--database",
            "-d",
            envvar="ECOMMERCE_BACKUP_DATABASES",
            help="Database to back up (repeatable). Default: the shop's databases.",
        ),
    ] = None,
    all_databases: Annotated[bool, typer.Option("--all", help="Every database on the server.")] = False,
    directory: DirOpt = None,
    keep: Annotated[
        int, typer.Option("--keep", envvar="ECOMMERCE_BACKUP_KEEP", min=0, help="Backups kept per database; 0 = all.")
    ] = 7,
    url: UrlOpt = None,
    data_dir: DataDirOpt = Path(".data"),
    engine: EngineOpt = Engine.auto,
) -> None:
    """pg_dump -Fc (or an SQLite copy) of each database, a .sha256 and a manifest beside each, verified."""
    with _errors():
        target = ops_backup.Target.resolve(engine=engine.value, url=url, data_dir=data_dir)
        results = ops_backup.backup(
            target,
            directory or data_dir / "backups",
            databases=database or (),
            everything=all_databases,
            keep=keep,
            log=_log,
        )
        for result in results:
            manifest = result.manifest
            typer.echo(
                f"backup {result.path} sha256={manifest.sha256} tables={len(manifest.tables)} "
                f"rows={manifest.total_rows} verified"
            )


@app.command("verify")
def verify_command(
    files: Annotated[list[str] | None, typer.Argument(help="Dumps to check (default: all in --dir).")] = None,
    directory: DirOpt = None,
    data_dir: DataDirOpt = Path(".data"),
) -> None:
    """Check each dump's checksum, manifest and archive (pg_restore --list, or SQLite's integrity check)."""
    backup_dir = directory or data_dir / "backups"
    paths = [ops_backup.resolve_dump(name, backup_dir) for name in files or []]
    if not files:
        paths = [path for path, _, _ in ops_backup.list_backups(backup_dir)]
    if not paths:
        _fail(f"no backups in {backup_dir}")
    failed = 0
    for path in paths:
        try:
            manifest = ops_backup.verify(path)
        except OpsError as error:
            failed += 1
            typer.echo(f"FAILED {path}: {error}")
        else:
            typer.echo(f"ok {path} sha256={manifest.sha256} rows={manifest.total_rows}")
    if failed:
        _fail(f"{failed} of {len(paths)} backups failed verification")


@app.command("restore")
def restore_command(
    file: Annotated[str, typer.Argument(help="The dump: a path, or a file name in --dir.")],
    database: Annotated[
        str | None, typer.Option("--database", "-d", help="Restore into this database (default: the dump's).")
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    keep_previous: Annotated[
        bool, typer.Option("--keep-previous", help="Keep the replaced data as <db>__before_restore.")
    ] = False,
    no_owner: Annotated[bool, typer.Option("--no-owner", help="Do not restore object ownership.")] = False,
    directory: DirOpt = None,
    url: UrlOpt = None,
    data_dir: DataDirOpt = Path(".data"),
    engine: EngineOpt = Engine.auto,
) -> None:
    """Refuse a damaged dump; otherwise restore it and compare every table's rows and checksum with the backup."""
    with _errors():
        path = ops_backup.resolve_dump(file, directory or data_dir / "backups")
        manifest = ops_backup.verify(path)
        name = database or manifest.database
        if not yes:
            if not sys.stdin.isatty():
                _fail(f"restoring {path.name} replaces database {name}: pass --yes to confirm", code=1)
            typer.confirm(f"Replace database {name} with {path.name}?", abort=True)
        chosen = engine.value if engine != Engine.auto or url else manifest.engine
        target = ops_backup.Target.resolve(engine=chosen, url=url, data_dir=data_dir)
        ops_backup.restore(target, path, database=database, keep_previous=keep_previous, no_owner=no_owner, log=_log)
        typer.echo(f"restored {path} into {name} rows={manifest.total_rows} tables={len(manifest.tables)} verified")


@app.command("list")
def list_command(
    directory: DirOpt = None,
    data_dir: DataDirOpt = Path(".data"),
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per backup.")] = False,
) -> None:
    """Every backup, newest first: database, size, date, checksum and whether the file still matches it."""
    backup_dir = directory or data_dir / "backups"
    entries = ops_backup.list_backups(backup_dir)
    if not entries:
        _log(f"no backups in {backup_dir}")
    for path, manifest, status in entries:
        row = {
            "file": path.name,
            "database": manifest.database if manifest else "?",
            "engine": manifest.engine if manifest else "?",
            "size": path.stat().st_size,
            "created_at": manifest.created_at if manifest else "?",
            "sha256": manifest.sha256 if manifest else "?",
            "rows": manifest.total_rows if manifest else None,
            "status": status,
        }
        if as_json:
            typer.echo(json.dumps(row, sort_keys=True))
        else:
            typer.echo(
                f"{row['file']:<48} {row['database']:<14} {_human(row['size']):>9} {row['created_at'][:19]:<19} "
                f"{str(row['sha256'])[:16]} {status}"
            )


def _log(message: str) -> None:
    typer.echo(message, err=True)


def _fail(message: str, code: int = 1) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


class _errors:
    """Turn OpsError into a one-line message and its exit status."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, error: BaseException | None, tb: object) -> bool:
        if isinstance(error, OpsError):
            _fail(str(error), code=error.exit_code)
        return False


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"

"""SQLite (the local shop's files under .data/): online backup copies, checks and an atomic restore."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
from pathlib import Path

from ecommerce.ops.errors import OpsError
from ecommerce.ops.manifest import TableStats

SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")


def discover(data_dir: Path) -> dict[str, Path]:
    """The shop's SQLite files in `data_dir`, by database name (the file's stem)."""
    if not data_dir.is_dir():
        return {}
    found = {}
    for path in sorted(data_dir.iterdir()):
        if path.is_file() and path.suffix in SQLITE_SUFFIXES and _is_sqlite(path):
            found[path.stem] = path
    return found


def table_stats(conn: sqlite3.Connection) -> dict[str, TableStats]:
    """Rows and an order-independent md5 of every table (the same recipe at backup and at restore)."""
    names = [
        row[0]
        for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
    ]
    stats = {}
    for name in names:
        quoted = '"' + name.replace('"', '""') + '"'
        digests = sorted(
            hashlib.md5(_row_text(row).encode()).hexdigest() for row in conn.execute(f"SELECT * FROM {quoted}")
        )
        checksum = hashlib.md5("".join(digests).encode()).hexdigest() if digests else ""
        stats[name] = TableStats(rows=len(digests), checksum=checksum)
    return stats


def dump(source: Path, target: Path) -> dict[str, TableStats]:
    """Copy `source` to `target` with SQLite's online backup API and describe the copy."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
        stats = table_stats(dst)
    finally:
        dst.close()
        src.close()
    return stats


def check_file(path: Path) -> None:
    """PRAGMA integrity_check must say ok."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            result = conn.execute("PRAGMA integrity_check").fetchone()
        finally:
            conn.close()
    except sqlite3.DatabaseError as error:
        raise OpsError(f"{path.name}: not a readable SQLite database: {error}") from error
    if result is None or result[0] != "ok":
        raise OpsError(f"{path.name}: SQLite integrity check failed: {result}")


def stats_of(path: Path) -> dict[str, TableStats]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return table_stats(conn)
    finally:
        conn.close()


def restore(dump_file: Path, target: Path, *, expected: dict[str, TableStats], keep_previous: bool) -> None:
    """Check a copy of the dump against `expected`, then move it over `target` in one rename."""
    from ecommerce.ops.manifest import compare_tables

    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(target.name + ".restoring")
    shutil.copyfile(dump_file, staging)
    try:
        problems = compare_tables(expected, stats_of(staging))
        if problems:
            raise OpsError("restored copy does not match the backup: " + "; ".join(problems))
        if keep_previous and target.exists():
            shutil.copyfile(target, target.with_name(target.name + ".before-restore"))
        for extra in ("-wal", "-shm", "-journal"):
            target.with_name(target.name + extra).unlink(missing_ok=True)
        os.replace(staging, target)
    finally:
        staging.unlink(missing_ok=True)


def _row_text(row: tuple[object, ...]) -> str:
    return json.dumps([value.hex() if isinstance(value, bytes) else value for value in row], default=str)


def _is_sqlite(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(16) == b"SQLite format 3\x00" or path.stat().st_size == 0

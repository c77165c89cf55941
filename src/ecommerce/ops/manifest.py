"""Backup files, their checksum files and the manifest JSON written beside each dump."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ecommerce.ops.errors import OpsError

DUMP_SUFFIXES = {".dump": "postgresql", ".sqlite": "sqlite"}
_NAME_RE = re.compile(r"^(?P<db>.+)-(?P<stamp>\d{8}T\d{6}Z)(?:-(?P<seq>\d+))?(?P<suffix>\.dump|\.sqlite)$")


@dataclasses.dataclass(frozen=True)
class TableStats:
    """Row count and an order-independent checksum of one table's rows."""

    rows: int
    checksum: str


@dataclasses.dataclass
class Manifest:
    """What a backup holds, recorded when it was taken, to compare a restore against."""

    database: str
    engine: str
    file: str
    sha256: str
    size: int
    created_at: str
    tables: dict[str, TableStats]
    owner: str | None = None
    database_acl: list[list[str]] | None = None
    source: str | None = None
    server_version: str | None = None

    def to_json(self) -> str:
        data: dict[str, Any] = dataclasses.asdict(self)
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        data = json.loads(text)
        data["tables"] = {name: TableStats(**stats) for name, stats in data.get("tables", {}).items()}
        known = {field.name for field in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})

    @property
    def total_rows(self) -> int:
        return sum(stats.rows for stats in self.tables.values())


def utc_now() -> datetime:
    """The current time in UTC (one place, so tests could pin it)."""
    return datetime.now(UTC)


def new_dump_path(directory: Path, database: str, suffix: str, now: datetime) -> Path:
    """A fresh, unused file name `<database>-<YYYYmmddTHHMMSSZ>[-N]<suffix>` in `directory`."""
    stem = f"{database}-{now:%Y%m%dT%H%M%S}Z"
    candidate = directory / f"{stem}{suffix}"
    seq = 1
    while candidate.exists() or checksum_path(candidate).exists():
        candidate = directory / f"{stem}-{seq}{suffix}"
        seq += 1
    return candidate


def parse_dump_name(path: Path) -> tuple[str, str] | None:
    """(database, engine) from a dump's file name, or None if it is not one of ours."""
    match = _NAME_RE.match(path.name)
    if match is None:
        return None
    return match["db"], DUMP_SUFFIXES[match["suffix"]]


def checksum_path(dump: Path) -> Path:
    return dump.with_name(dump.name + ".sha256")


def manifest_path(dump: Path) -> Path:
    return dump.with_name(dump.name + ".manifest.json")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_checksum(dump: Path) -> str:
    """Write `<dump>.sha256` in `sha256sum` format and return the digest."""
    digest = sha256_file(dump)
    atomic_write(checksum_path(dump), f"{digest}  {dump.name}\n")
    return digest


def read_checksum(dump: Path) -> str:
    path = checksum_path(dump)
    if not path.exists():
        raise OpsError(f"{dump.name}: checksum file {path.name} is missing")
    fields = path.read_text().split()
    if not fields or not re.fullmatch(r"[0-9a-f]{64}", fields[0]):
        raise OpsError(f"{dump.name}: checksum file {path.name} is malformed")
    return fields[0]


def check_checksum(dump: Path) -> str:
    """Raise OpsError unless the dump exists and matches its recorded SHA-256; return the digest."""
    if not dump.is_file():
        raise OpsError(f"backup {dump} does not exist")
    expected = read_checksum(dump)
    actual = sha256_file(dump)
    if actual != expected:
        raise OpsError(f"{dump.name}: checksum mismatch (recorded {expected[:12]}..., file {actual[:12]}...)")
    return actual


def write_manifest(dump: Path, manifest: Manifest) -> None:
    atomic_write(manifest_path(dump), manifest.to_json())


def read_manifest(dump: Path) -> Manifest:
    path = manifest_path(dump)
    if not path.exists():
        raise OpsError(f"{dump.name}: manifest {path.name} is missing")
    try:
        return Manifest.from_json(path.read_text())
    except (ValueError, TypeError, KeyError) as error:
        raise OpsError(f"{dump.name}: manifest {path.name} is unreadable: {error}") from error


def atomic_write(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    os.replace(partial, path)


def compare_tables(expected: dict[str, TableStats], actual: dict[str, TableStats]) -> list[str]:
    """Human-readable differences between two table inventories (empty when they match)."""
    problems = []
    for name in sorted(expected.keys() - actual.keys()):
        problems.append(f"table {name} is missing after restore")
    for name in sorted(actual.keys() - expected.keys()):
        problems.append(f"table {name} was not in the backup")
    for name in sorted(expected.keys() & actual.keys()):
        want, got = expected[name], actual[name]
        if want.rows != got.rows:
            problems.append(f"table {name}: {got.rows} rows, the backup recorded {want.rows}")
        elif want.checksum != got.checksum:
            problems.append(f"table {name}: row checksum differs from the backup's")
    return problems

"""Back up real PostgreSQL databases, damage or drop them, restore, and compare every row."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from ops_pg import PG_URL, psql
from typer.testing import CliRunner

from ecommerce.cli.db import app

pytestmark = pytest.mark.postgres

SCHEMA = """
CREATE TABLE products (
  product_id serial PRIMARY KEY, title text NOT NULL, price numeric(10, 2), created_at timestamptz,
  image bytea, note text
);
INSERT INTO products (title, price, created_at, image, note)
SELECT 'product ' || g, g * 1.25, timestamptz '2025-01-01' + g * interval '1 hour', decode(md5(g::text), 'hex'),
       CASE WHEN g % 7 = 0 THEN NULL ELSE 'it''s "quoted" é ' || g END
FROM generate_series(1, 500) AS g;
CREATE SCHEMA audit;
CREATE TABLE audit.events (id bigint PRIMARY KEY, payload jsonb);
INSERT INTO audit.events SELECT g, jsonb_build_object('n', g) FROM generate_series(1, 50) AS g;
CREATE TABLE empty_table (id int);
"""


def snapshot(database: str) -> dict[str, str]:
    """Every table's full contents as text, to compare before and after."""
    return {
        table: psql(f"SELECT string_agg(t::text, '|' ORDER BY t::text) FROM {table} AS t", database)
        for table in ("products", "audit.events", "empty_table")
    }


def invoke(*args: str) -> object:
    result = CliRunner().invoke(app, list(args))
    return result


@pytest.fixture
def shop_db(make_database) -> str:
    name = make_database("shop")
    psql(SCHEMA, name)
    return name


def backup(tmp_path: Path, *databases: str, keep: str = "7") -> list[Path]:
    args = ["backup", "--url", PG_URL, "--dir", str(tmp_path), "--keep", keep]
    for name in databases:
        args += ["--database", name]
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line.startswith("backup ")]
    assert len(lines) == len(databases)
    return [Path(line.split()[1]) for line in lines]


def test_backup_writes_dump_checksum_and_manifest(tmp_path, shop_db, make_database):
    other = make_database("other")
    psql("CREATE TABLE t (x int); INSERT INTO t VALUES (1), (2)", other)

    dumps = backup(tmp_path, shop_db, other)

    assert [path.name.split("-")[0] for path in dumps] == [shop_db, other]
    for dump in dumps:
        assert dump.suffix == ".dump" and dump.read_bytes()[:5] == b"PGDMP"
        digest, name = Path(f"{dump}.sha256").read_text().split()
        assert name == dump.name and len(digest) == 64
        manifest = json.loads(Path(f"{dump}.manifest.json").read_text())
        assert manifest["sha256"] == digest and manifest["engine"] == "postgresql"
    manifest = json.loads(Path(f"{dumps[0]}.manifest.json").read_text())
    assert manifest["database"] == shop_db
    assert {name: stats["rows"] for name, stats in manifest["tables"].items()} == {
        "public.products": 500,
        "audit.events": 50,
        "public.empty_table": 0,
    }


def test_restore_repairs_damaged_database(tmp_path, shop_db):
    before = snapshot(shop_db)
    [dump] = backup(tmp_path, shop_db)
    psql("DELETE FROM products WHERE product_id % 3 = 0; UPDATE audit.events SET payload = '{}'", shop_db)
    psql("DROP TABLE empty_table; CREATE TABLE intruder (x int)", shop_db)

    result = invoke("restore", str(dump), "--url", PG_URL, "--yes")

    assert result.exit_code == 0, result.output
    assert "verified" in result.stdout
    assert snapshot(shop_db) == before
    assert psql("SELECT count(*) FROM pg_tables WHERE tablename = 'intruder'", shop_db) == "0"


def test_restore_recreates_dropped_database_with_owner(tmp_path, make_database):
    role = f"opstest_role_{uuid.uuid4().hex[:8]}"
    psql(f'CREATE ROLE "{role}" LOGIN')
    try:
        name = make_database("owned")
        psql(f'ALTER DATABASE "{name}" OWNER TO "{role}"; REVOKE ALL ON DATABASE "{name}" FROM PUBLIC')
        psql(f'CREATE TABLE items (id int); ALTER TABLE items OWNER TO "{role}"', name)
        psql("INSERT INTO items VALUES (1), (2)", name)
        [dump] = backup(tmp_path, name)
        psql(f'DROP DATABASE "{name}" WITH (FORCE)')

        result = invoke("restore", dump.name, "--dir", str(tmp_path), "--url", PG_URL, "--yes")

        assert result.exit_code == 0, result.output
        assert psql("SELECT count(*) FROM items", name) == "2"
        assert psql(f"SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '{name}'") == role
        assert psql("SELECT tableowner FROM pg_tables WHERE tablename = 'items'", name) == role
        assert psql(f"SELECT has_database_privilege('public', '{name}', 'CONNECT')") == "f"
    finally:
        psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        psql(f'DROP ROLE IF EXISTS "{role}"')


def test_corrupted_dump_is_refused_and_database_untouched(tmp_path, shop_db):
    [dump] = backup(tmp_path, shop_db)
    data = bytearray(dump.read_bytes())
    data[len(data) // 2] ^= 0xFF
    dump.write_bytes(bytes(data))
    psql("INSERT INTO products (title) VALUES ('added after the backup')", shop_db)

    result = invoke("restore", str(dump), "--url", PG_URL, "--yes")

    assert result.exit_code == 1
    assert "checksum mismatch" in result.stderr
    assert psql("SELECT count(*) FROM products", shop_db) == "501"


def test_truncated_dump_with_forged_checksum_is_refused(tmp_path, shop_db):
    [dump] = backup(tmp_path, shop_db)
    dump.write_bytes(dump.read_bytes()[:200])
    from ecommerce.ops.manifest import sha256_file

    digest = sha256_file(dump)
    Path(f"{dump}.sha256").write_text(f"{digest}  {dump.name}\n")
    manifest = json.loads(Path(f"{dump}.manifest.json").read_text())
    manifest["sha256"] = digest
    Path(f"{dump}.manifest.json").write_text(json.dumps(manifest))

    verify = invoke("verify", str(dump))
    restore = invoke("restore", str(dump), "--url", PG_URL, "--yes")

    assert verify.exit_code == 1 and "FAILED" in verify.stdout and "pg_restore" in verify.stdout
    assert restore.exit_code == 1 and "pg_restore cannot read" in restore.stderr
    assert psql("SELECT count(*) FROM products", shop_db) == "500"


def test_restore_without_confirmation_is_refused(tmp_path, shop_db):
    [dump] = backup(tmp_path, shop_db)
    psql("DELETE FROM products", shop_db)

    result = invoke("restore", str(dump), "--url", PG_URL)

    assert result.exit_code == 1
    assert "--yes" in result.stderr
    assert psql("SELECT count(*) FROM products", shop_db) == "0"


def test_retention_keeps_newest_backups(tmp_path, shop_db, make_database):
    other = make_database("kept")
    first = backup(tmp_path, shop_db, other)
    second = backup(tmp_path, shop_db)
    third = backup(tmp_path, shop_db, keep="2")

    remaining = sorted(path.name for path in tmp_path.iterdir())
    expected = sorted(
        name
        for dump in (*second, *third, first[1])
        for name in (dump.name, f"{dump.name}.sha256", f"{dump.name}.manifest.json")
    )
    assert remaining == expected
    assert not first[0].exists()


def test_verify_and_list_report_every_backup(tmp_path, shop_db):
    [good] = backup(tmp_path, shop_db)
    [bad] = backup(tmp_path, shop_db)
    bad.write_bytes(bad.read_bytes() + b"x")

    verify = invoke("verify", "--dir", str(tmp_path))
    listing = invoke("list", "--dir", str(tmp_path), "--json")

    assert verify.exit_code == 1
    assert f"ok {good}" in verify.stdout and f"FAILED {bad}" in verify.stdout
    rows = {row["file"]: row for row in map(json.loads, listing.stdout.splitlines())}
    assert rows[good.name]["status"] == "ok" and rows[good.name]["rows"] == 550
    assert rows[bad.name]["status"] == "CORRUPT"
    assert rows[good.name]["database"] == shop_db


def test_unknown_database_is_an_error(tmp_path, postgres_server):
    result = invoke("backup", "--url", PG_URL, "--dir", str(tmp_path), "--database", "opstest_no_such_db")
    assert result.exit_code == 1
    assert "no such database" in result.stderr

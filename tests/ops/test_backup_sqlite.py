"""The local shop's SQLite files back up and restore with the same commands."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from typer.testing import CliRunner

from ecommerce.cli.db import app


def make_shop(data_dir: Path) -> Path:
    data_dir.mkdir()
    path = data_dir / "productdb.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE products (id INTEGER PRIMARY KEY, title TEXT, price NUMERIC, image BLOB)")
        conn.executemany(
            "INSERT INTO products VALUES (?, ?, ?, ?)",
            [(n, f"product {n} it's", n * 1.5, bytes([n % 256])) for n in range(1, 201)],
        )
        conn.execute("CREATE TABLE categories (id INTEGER PRIMARY KEY, title TEXT)")
    conn.close()
    with sqlite3.connect(data_dir / "userdb.db") as conn:
        conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY)")
    conn.close()
    return path


def contents(path: Path) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT * FROM products ORDER BY id").fetchall()
    finally:
        conn.close()


def run(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(app, list(args), env=env)


def test_sqlite_backup_damage_restore(tmp_path):
    data_dir = tmp_path / "data"
    db = make_shop(data_dir)
    before = contents(db)

    backup = run("backup", "--data-dir", str(data_dir), "--engine", "sqlite")
    assert backup.exit_code == 0, backup.output
    dumps = sorted((data_dir / "backups").glob("*.sqlite"))
    assert [path.name.split("-")[0] for path in dumps] == ["productdb", "userdb"]
    manifest = json.loads(Path(f"{dumps[0]}.manifest.json").read_text())
    assert manifest["tables"]["products"]["rows"] == 200 and manifest["engine"] == "sqlite"

    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM products WHERE id > 50")
        conn.execute("UPDATE products SET title = 'changed'")
    conn.close()
    restore = run("restore", dumps[0].name, "--data-dir", str(data_dir), "--yes")

    assert restore.exit_code == 0, restore.output
    assert contents(db) == before


def test_sqlite_corrupted_backup_refused(tmp_path):
    data_dir = tmp_path / "data"
    db = make_shop(data_dir)
    assert run("backup", "--data-dir", str(data_dir), "-d", "productdb", env={"PGHOST": ""}).exit_code == 0
    [dump] = (data_dir / "backups").glob("productdb-*.sqlite")
    dump.write_bytes(dump.read_bytes()[:-10] + b"0123456789")
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM products")
    conn.close()

    restore = run("restore", str(dump), "--data-dir", str(data_dir), "--yes")

    assert restore.exit_code == 1 and "checksum mismatch" in restore.stderr
    assert contents(db) == []


def test_sqlite_no_databases_is_an_error(tmp_path):
    result = run("backup", "--data-dir", str(tmp_path), "--engine", "sqlite")
    assert result.exit_code == 1 and "no SQLite databases" in result.stderr

"""`ecommerce up --postgres`: create each service's database and role when missing."""

from __future__ import annotations

import asyncpg
from sqlalchemy.engine import make_url

from ecommerce import components

# Development-only credentials for the local shop. Kubernetes takes real ones from Secrets.
DEV_PASSWORD_PREFIX = "dev-only-"


def database_name(service: str, prefix: str = "") -> str:
    """`product-service` -> `productdb`: the component table's name, the one the manual uses (after a prefix)."""
    database = components.get(service).database
    if database is None:
        raise ValueError(f"{service} has no database")
    return prefix + database.name


async def database_urls(admin_url: str, services: list[str], prefix: str = "") -> dict[str, str]:
    """Ensure a database and an owning role per service; return each service's SQLAlchemy URL."""
    admin = make_url(admin_url).set(drivername="postgresql")
    conn = await asyncpg.connect(admin.render_as_string(hide_password=False))
    urls: dict[str, str] = {}
    try:
        for service in services:
            db = database_name(service, prefix)
            role = f"{db}_owner"
            password = f"{DEV_PASSWORD_PREFIX}{db}"
            if not await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role):
                await conn.execute(f"CREATE ROLE \"{role}\" LOGIN PASSWORD '{password}'")
            if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", db):
                await conn.execute(f'CREATE DATABASE "{db}" OWNER "{role}"')
            url = admin.set(drivername="postgresql+asyncpg", username=role, password=password, database=db)
            urls[service] = url.render_as_string(hide_password=False)
    finally:
        await conn.close()
    return urls

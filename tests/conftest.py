"""Fixtures shared by every test: databases (SQLite and the real PostgreSQL), in-process clients, real processes."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from shop_testing import (
    TEST_SECRETS,
    RunningService,
    admin_headers,
    postgres_database,
    start_service,
    trusting_verifier,
)

from ecommerce.chassis import ServiceSpec, create_app

__all__ = ["postgres_database"]


@pytest_asyncio.fixture(scope="module", params=["sqlite", "postgres"])
async def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """One database per test module, on SQLite and on the real PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("sqlite") / "test.db"
        yield f"sqlite+aiosqlite:///{path}"
        return
    async with postgres_database() as url:
        yield url


@pytest.fixture(scope="session")
def make_client() -> Callable[..., contextlib.AbstractAsyncContextManager[httpx.AsyncClient]]:
    """`async with make_client(SPEC, database_url=...) as client`: the app in-process, its lifespan run.

    The app holds the tests' identity secrets and trusts the tests' user-token key (shop_testing); the client
    speaks as an administrator unless `headers=` says otherwise (`headers={}`: anonymous).
    """

    @contextlib.asynccontextmanager
    async def factory(
        spec: ServiceSpec, *, headers: dict[str, str] | None = None, **overrides: Any
    ) -> AsyncIterator[httpx.AsyncClient]:
        overrides.setdefault("access_log", False)
        for name, value in TEST_SECRETS.items():
            overrides.setdefault(name.lower(), value)
        settings = spec.settings_cls(**overrides)
        app = create_app(spec, settings)
        app.state.token_verifier = trusting_verifier()
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            sent = admin_headers() if headers is None else headers
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver", headers=sent) as client:
                client.app = app  # type: ignore[attr-defined]
                yield client

    return factory


@pytest.fixture
def running_service(tmp_path: Path) -> Iterator[Callable[..., RunningService]]:
    """Factory fixture: `running_service("product-service", env={...})`, stopped after the test."""
    started: list[RunningService] = []

    def factory(name: str, **kwargs: Any) -> RunningService:
        kwargs.setdefault("data_dir", tmp_path / "data")
        service = start_service(name, **kwargs)
        started.append(service)
        return service

    yield factory
    for service in reversed(started):
        service.stop()

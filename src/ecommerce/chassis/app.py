"""Build a service's ASGI app from its spec: actuator, errors, telemetry, database, lifespan."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import structlog
from fastapi import APIRouter, FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

import ecommerce
from ecommerce.chassis import config_client, migrations
from ecommerce.chassis.actuator import HealthCheck, actuator_router, add_health_check, add_refresher, health_router
from ecommerce.chassis.body_limit import BodyLimit
from ecommerce.chassis.database import Database
from ecommerce.chassis.discovery import registry_extension
from ecommerce.chassis.errors import install_error_handlers
from ecommerce.chassis.faults import install_faults
from ecommerce.chassis.http import PeerClient
from ecommerce.chassis.identity import MeshSecrets, ServiceTokens, ServiceTokenVerifier
from ecommerce.chassis.openapi import document_errors
from ecommerce.chassis.security import revocation_poller
from ecommerce.chassis.settings import ServiceSettings, load_settings, sqlite_url
from ecommerce.chassis.telemetry import (
    ACCESS_LOG,
    MEMORY_LIMIT,
    TelemetryMiddleware,
    configure_logging,
    configure_tracing,
    read_memory_limit,
)

log = structlog.get_logger("ecommerce.app")

Extension = Callable[[FastAPI], AbstractAsyncContextManager[None]]

# Allocations net of deallocations between two young-generation collections while serving (the default is 700).
GC_YOUNG_THRESHOLD = 20_000


@dataclass(frozen=True)
class ServiceSpec:
    """Everything the chassis needs to know to build and run one component."""

    name: str
    port: int
    context_path: str = ""
    description: str = ""
    settings_cls: type[ServiceSettings] = ServiceSettings
    routers: Sequence[APIRouter] = ()
    migrations: Path | None = None
    seed: Callable[[AsyncSession], Awaitable[None]] | None = None
    extensions: Sequence[Extension] = field(default_factory=tuple)
    # uvicorn's HTTP protocol, as an import string; None means the chassis' (http_limits.PROTOCOL: httptools with the
    # HTTP limits). One named here subclasses it, so every component keeps the limits.
    http_protocol: str | None = None
    # Completes the OpenAPI document once it is built (e.g. the storefront documents the bodies it relays).
    openapi: Callable[[dict[str, Any]], None] | None = None

    @property
    def actuator_base(self) -> str:
        return f"{self.context_path}/actuator"


def create_app(spec: ServiceSpec, settings: ServiceSettings | None = None) -> FastAPI:
    """Assemble the ASGI app for `spec`; `settings` default to defaults < config server < environment."""
    settings = settings or load_settings(spec.settings_cls, spec.name)
    pinned = set(settings.model_fields_set)  # set by the environment or the caller: the config server never wins
    remote: dict[str, Any] = {}
    if settings.config_server_url:
        settings, remote = config_client.with_remote_settings(spec.name, settings, pinned=pinned)
    if settings.discovery_url:  # register, renew, deregister; app.state.registry resolves peers
        spec = replace(spec, extensions=(*spec.extensions, registry_extension))
    if settings.jwt_jwks_url and revocation_poller not in spec.extensions:  # it verifies user tokens
        spec = replace(spec, extensions=(*spec.extensions, revocation_poller))
    configure_logging(spec.name, settings.log_level)
    tracer = configure_tracing(spec.name, settings.otel_endpoint)

    app = FastAPI(
        title=spec.name,
        description=spec.description,
        version=ecommerce.__version__,
        docs_url=f"{spec.context_path}/docs",
        openapi_url=f"{spec.context_path}/openapi.json",
        redoc_url=None,
        lifespan=_lifespan(spec),
        # FastAPI's built-in instrumentation would switch itself on once a tracer provider exists and double
        # the spans; TelemetryMiddleware below does the same job for a fraction of the cost.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    app.state.spec = spec
    app.state.settings = settings
    # Who this component is to its peers, and how it knows who calls it (chassis/identity.py, chassis/access.py).
    app.state.mesh_secrets = secrets = MeshSecrets.from_settings(settings)
    app.state.service_tokens = ServiceTokens(secrets, spec.name)
    app.state.service_token_verifier = ServiceTokenVerifier(secrets, spec.name)
    app.state.health_checks = []
    app.state.refreshers = []
    app.state.remote_config = remote
    if settings.config_server_url:
        add_refresher(app, config_client.remote_refresher(app, pinned))
    app.state.draining = False
    app.state.database = None

    if spec.migrations is not None:
        database = Database(
            settings.database_url or sqlite_url(settings.data_dir, spec.name),
            application=spec.name,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_timeout=settings.db_pool_timeout,
        )
        app.state.database = database
        add_health_check(app, HealthCheck("db", _database_probe(database, spec.migrations)))

    for router in spec.routers:
        app.include_router(router, prefix=spec.context_path)
    app.include_router(actuator_router(), prefix=spec.actuator_base)
    # The OpenAPI document says 400 with the error body, as the app answers, never 422.
    document_errors(app, spec.openapi)
    if spec.context_path:
        # The manual's troubleshooting calls http://<service>:<port>/actuator/health.
        app.include_router(health_router(), prefix="/actuator", include_in_schema=False)
    install_error_handlers(app)

    faults = install_faults(app, spec.name, spec.actuator_base)  # off until an admin turns it on (dev/qa only)
    # One per-request layer: telemetry, the body limit and the fault switch.
    app.add_middleware(
        TelemetryMiddleware,
        application=spec.name,
        tracer=tracer,
        sampling_ratio=settings.trace_sampling_ratio,
        access_log=settings.access_log,
        route_templates=route_templates(app),
        body_limit=BodyLimit(settings.max_body_bytes),
        faults=faults,
    )
    limit = read_memory_limit()
    if limit is not None:
        MEMORY_LIMIT.labels(spec.name).set(limit)
    return app


def route_templates(app: FastAPI) -> dict[int, str]:
    """Map each route object to its full path template, prefixes included (the metrics' `uri` label).

    FastAPI keeps included routers nested and puts the inner route, whose path lacks the prefixes, in
    `scope["route"]`; the effective route contexts know the full template.
    """
    templates: dict[int, str] = {}
    for route in app.routes:
        contexts = getattr(route, "effective_route_contexts", None)
        if contexts is not None:
            for context in contexts():
                templates[id(context.original_route)] = context.path_format
        elif hasattr(route, "path"):
            templates[id(route)] = route.path
    return templates


def _lifespan(spec: ServiceSpec) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database: Database | None = app.state.database
        async with AsyncExitStack() as stack:
            peers = PeerClient(
                application=spec.name,
                settings=app.state.settings,
                registry=app.state,
                tokens=app.state.service_tokens,
            )
            await peers.start()
            stack.push_async_callback(peers.close)
            app.state.peers = peers
            if database is not None:
                stack.push_async_callback(database.dispose)
                await prepare_database(spec, app.state.settings, database)
            for extension in spec.extensions:
                await stack.enter_async_context(extension(app))
            stack.enter_context(_collector_for_serving())
            log.info("started", port=spec.port, profile=app.state.settings.profile)
            yield
            app.state.draining = True
        ACCESS_LOG.flush()
        log.info("stopped")

    return lifespan


@contextmanager
def _collector_for_serving() -> Iterator[None]:
    """While serving: what exists after start-up out of the collector's sight, the young generation collected less
    often; both restored at shutdown.

    Start-up leaves a large heap that lives as long as the process. With the default thresholds the collector
    walks it again and again: requests that keep objects alive for a while (sampled spans waiting in the export
    queue, pooled connections) fill the young generation often and, every so many of those, trigger a full
    collection of the whole heap (the profile in bench/results/chassis.md). Frozen, it is never walked again.
    """
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, thresholds[1], thresholds[2])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


async def prepare_database(spec: ServiceSpec, settings: ServiceSettings, database: Database) -> None:
    """Migrate to the newest revision and, when the profile asks for it, load the demo rows."""
    assert spec.migrations is not None
    await migrations.upgrade(database, spec.migrations)
    if spec.seed is not None and settings.seeds_demo_data:
        async with database.sessionmaker() as session, session.begin():
            await spec.seed(session)


def _database_probe(database: Database, script_location: Path) -> Callable[[], Awaitable[dict[str, Any]]]:
    async def probe() -> dict[str, Any]:
        reachable = await database.ping()
        migrated = reachable and await migrations.is_up_to_date(database, script_location)
        details = {"database": "SQLite" if database.is_sqlite else "PostgreSQL", "migrated": migrated}
        return {"status": "UP" if migrated else "DOWN", "details": details}

    return probe

"""service-discovery: a Eureka-compatible registry (leases, deltas, self-preservation, peer replication)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import structlog
from fastapi import FastAPI

from ecommerce import components
from ecommerce.chassis import HealthCheck, MeshSecrets, ServiceSpec, add_health_check
from ecommerce.services.discovery.registry import Registry
from ecommerce.services.discovery.replication import Replicator, is_self
from ecommerce.services.discovery.router import pages, router
from ecommerce.services.discovery.settings import RegistrySettings

log = structlog.get_logger("ecommerce.discovery")


@contextlib.asynccontextmanager
async def registry_lifecycle(app: FastAPI) -> AsyncIterator[None]:
    """Create the registry, copy it from a peer, and run the eviction pass until shutdown."""
    settings: RegistrySettings = app.state.settings
    secrets = MeshSecrets.from_settings(settings)  # who may call (access.py); outside dev, required
    app.state.mesh_secrets = secrets
    registry = Registry(
        default_duration=settings.lease_duration_seconds,
        default_renewal_interval=settings.lease_renewal_seconds,
        delta_retention=settings.delta_retention_seconds,
        self_preservation=settings.self_preservation,
        renewal_percent_threshold=settings.renewal_percent_threshold,
        self_preservation_min_instances=settings.self_preservation_min_instances,
    )
    port = settings.port or SPEC.port
    peers = [url for url in settings.peers_list if not is_self(url, port=port, hosts={settings.instance_host})]
    replicator = Replicator(registry, peers, timeout=settings.replication_timeout_seconds, secrets=secrets)
    app.state.eureka_registry = registry
    app.state.eureka_replicator = replicator
    add_health_check(app, HealthCheck("registry", _probe(registry, replicator), readiness=False))
    await replicator.start()
    await replicator.sync_up()
    evictor = asyncio.create_task(_evict_forever(registry, settings.eviction_interval_seconds))
    try:
        yield
    finally:
        evictor.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await evictor
        await replicator.stop()


async def _evict_forever(registry: Registry, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            registry.evict()
        except Exception:  # the pass must survive anything and run again
            log.exception("eviction failed")


def _probe(registry: Registry, replicator: Replicator):  # type: ignore[no-untyped-def]
    async def probe() -> dict[str, object]:
        return {
            "status": "UP",
            "details": {
                "instances": registry.size(),
                "applications": len(registry.apps),
                "selfPreservation": registry.preserving,
                "peers": replicator.peers,
            },
        }

    return probe


SPEC = ServiceSpec(
    **components.placement("service-discovery"),  # name, port and context path: the component table
    description="Eureka-compatible service registry.",
    settings_cls=RegistrySettings,
    routers=(router, pages),
    migrations=None,
    extensions=(registry_lifecycle,),
)

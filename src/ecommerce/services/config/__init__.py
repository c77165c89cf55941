"""cloud-config-server: Spring-Cloud-Config-compatible settings over config-repo/ or a git repository."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from ecommerce import components
from ecommerce.chassis import MeshSecrets, ServiceSpec
from ecommerce.services.config.backends import FolderBackend, GitBackend
from ecommerce.services.config.router import router
from ecommerce.services.config.settings import ConfigServerSettings


@contextlib.asynccontextmanager
async def config_backend(app: FastAPI) -> AsyncIterator[None]:
    """Open the folder or git backend for the server's lifetime."""
    settings: ConfigServerSettings = app.state.settings
    app.state.mesh_secrets = MeshSecrets.from_settings(settings)  # who may call (access.py); outside dev, required
    backend: FolderBackend | GitBackend
    if settings.git_uri:
        backend = GitBackend(
            settings.git_uri,
            default_label=settings.default_label,
            refresh_seconds=settings.git_refresh_seconds,
            cache_dir=settings.git_cache_dir,
        )
    else:
        backend = FolderBackend(settings.repo_dir.resolve())
    app.state.config_backend = backend
    try:
        yield
    finally:
        await backend.close()


SPEC = ServiceSpec(
    **components.placement("cloud-config-server"),  # name, port and context path: the component table
    description="Spring-Cloud-Config-compatible configuration server.",
    settings_cls=ConfigServerSettings,
    routers=(router,),
    migrations=None,
    extensions=(config_backend,),
)

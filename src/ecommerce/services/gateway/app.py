"""The ASGI app of api-gateway."""

from fastapi import FastAPI

from ecommerce.chassis import create_app
from ecommerce.services.gateway import SPEC


def build() -> FastAPI:
    """Build the app with settings from the environment (and the config server)."""
    return create_app(SPEC)

"""The ASGI app of shipping-service."""

from fastapi import FastAPI

from ecommerce.chassis import create_app
from ecommerce.services.shipping import SPEC


def build() -> FastAPI:
    """Build the app with settings from the environment (and the config server)."""
    return create_app(SPEC)

"""Every component of the shop by its one name, in the order `ecommerce up` starts them."""

from __future__ import annotations

import importlib

from ecommerce.chassis import ServiceSpec

# name -> module whose SPEC describes it. Order matters: registry and config first, the edge last.
COMPONENTS: dict[str, str] = {
    "service-discovery": "ecommerce.services.discovery",
    "cloud-config-server": "ecommerce.services.config",
    "user-service": "ecommerce.services.users",
    "product-service": "ecommerce.services.products",
    "favourite-service": "ecommerce.services.favourites",
    "order-service": "ecommerce.services.orders",
    "shipping-service": "ecommerce.services.shipping",
    "payment-service": "ecommerce.services.payments",
    "api-gateway": "ecommerce.services.gateway",
    "proxy-client": "ecommerce.services.storefront",
}


def names() -> list[str]:
    """Component names in start order."""
    return list(COMPONENTS)


def load_spec(name: str) -> ServiceSpec:
    """The spec of component `name`; KeyError for an unknown name."""
    spec = importlib.import_module(COMPONENTS[name]).SPEC
    assert isinstance(spec, ServiceSpec)
    return spec

"""product-service: the catalog (categories with parents, products with stock)."""

from pathlib import Path

from ecommerce import components
from ecommerce.chassis import ServiceSpec
from ecommerce.services.products import events, reconcile
from ecommerce.services.products.reads import read_path
from ecommerce.services.products.reservations_router import router as reservations_router
from ecommerce.services.products.router import router
from ecommerce.services.products.seed import seed

SPEC = ServiceSpec(
    **components.placement("product-service"),  # name, port and context path: the component table
    description="The catalog: categories and products.",
    routers=(router, reservations_router, reconcile.router, events.router),
    migrations=Path(__file__).parent / "migrations",
    seed=seed,
    extensions=(read_path,),
)

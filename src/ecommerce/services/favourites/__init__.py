"""favourite-service: which user likes which product (once), with both embedded from their services."""

from pathlib import Path

from ecommerce import components
from ecommerce.chassis import ServiceSpec
from ecommerce.services.favourites.router import router
from ecommerce.services.favourites.seed import seed

SPEC = ServiceSpec(
    **components.placement("favourite-service"),  # name, port and context path: the component table
    description="Favourites: a user likes a product, at most once.",
    routers=(router,),
    migrations=Path(__file__).parent / "migrations",
    seed=seed,
)

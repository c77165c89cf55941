"""favourite-service: which user likes which product (once), with both embedded from their services."""

from pathlib import Path

from ecommerce.chassis import ServiceSpec
from ecommerce.services.favourites.router import router
from ecommerce.services.favourites.seed import seed

SPEC = ServiceSpec(
    name="favourite-service",
    port=8800,
    context_path="/favourite-service",
    description="Favourites: a user likes a product, at most once.",
    routers=(router,),
    migrations=Path(__file__).parent / "migrations",
    seed=seed,
)

"""user-service: users, their addresses, credentials (bcrypt) and verification tokens."""

from pathlib import Path

from ecommerce import components
from ecommerce.chassis import ServiceSpec
from ecommerce.services.users.router import router
from ecommerce.services.users.seed import seed
from ecommerce.services.users.settings import UserSettings

SPEC = ServiceSpec(
    **components.placement("user-service"),  # name, port and context path: the component table
    description="Users, addresses, credentials and verification tokens.",
    settings_cls=UserSettings,
    routers=(router,),
    migrations=Path(__file__).parent / "migrations",
    seed=seed,
)

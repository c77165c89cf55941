"""user-service: users, their addresses, credentials (bcrypt) and verification tokens."""

from pathlib import Path

from ecommerce.chassis import ServiceSpec
from ecommerce.services.users.router import router
from ecommerce.services.users.seed import seed
from ecommerce.services.users.settings import UserSettings

SPEC = ServiceSpec(
    name="user-service",
    port=8700,
    context_path="/user-service",
    description="Users, addresses, credentials and verification tokens.",
    settings_cls=UserSettings,
    routers=(router,),
    migrations=Path(__file__).parent / "migrations",
    seed=seed,
)

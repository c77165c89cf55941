from ecommerce.chassis import run_env
from ecommerce.services.users.models import metadata

run_env(metadata)

from ecommerce.chassis import run_env
from ecommerce.services.favourites.models import metadata

run_env(metadata)

from ecommerce.chassis import run_env
from ecommerce.services.products.models import metadata

run_env(metadata)

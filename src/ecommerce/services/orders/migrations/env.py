from ecommerce.chassis import run_env
from ecommerce.services.orders.models import metadata

run_env(metadata)

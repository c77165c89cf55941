from ecommerce.chassis import run_env
from ecommerce.services.shipping.models import metadata

run_env(metadata)

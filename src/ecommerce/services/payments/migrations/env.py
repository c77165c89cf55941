from ecommerce.chassis import run_env
from ecommerce.services.payments.models import metadata

run_env(metadata)

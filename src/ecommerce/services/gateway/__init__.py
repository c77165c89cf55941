"""api-gateway: the edge of the shop. Routes /<service>/** and /app/**, with resilience, limits and security."""

from ecommerce.chassis import NATIVE_LANE_PROTOCOL, ServiceSpec
from ecommerce.services.gateway.extension import gateway_extension
from ecommerce.services.gateway.router import router
from ecommerce.services.gateway.settings import GatewaySettings

SPEC = ServiceSpec(
    name="api-gateway",
    port=8080,
    context_path="",
    description="The edge: routing to every service, balancing, retries, circuit breakers, rate limits, auth.",
    settings_cls=GatewaySettings,
    routers=(router,),
    extensions=(gateway_extension,),
    # Serves plain public reads straight from the parser callbacks (native.py says why).
    http_protocol=NATIVE_LANE_PROTOCOL,
)

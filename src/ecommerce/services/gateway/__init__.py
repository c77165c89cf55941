"""api-gateway: the edge of the shop. Routes /<service>/** and /app/**, with resilience, limits and security."""

from ecommerce import components
from ecommerce.chassis import NATIVE_LANE_PROTOCOL, ServiceSpec
from ecommerce.services.gateway.extension import gateway_extension
from ecommerce.services.gateway.router import router
from ecommerce.services.gateway.settings import GatewaySettings

SPEC = ServiceSpec(
    **components.placement("api-gateway"),  # name, port and context path: the component table
    description="The edge: routing to every service, balancing, retries, circuit breakers, rate limits, auth.",
    settings_cls=GatewaySettings,
    routers=(router,),
    extensions=(gateway_extension,),
    # Serves plain public reads straight from the parser callbacks (native.py says why).
    http_protocol=NATIVE_LANE_PROTOCOL,
)

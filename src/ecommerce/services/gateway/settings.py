"""What the gateway can be told, on top of every service's settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field

from ecommerce.chassis import LOOPBACK, ProxyNetworks, ServiceSettings


class GatewaySettings(ServiceSettings):
    """The route table comes from the config server (`gateway:` in api-gateway.yml), a file, or the default."""

    gateway: dict[str, Any] | None = Field(None, validation_alias=AliasChoices("GATEWAY_CONFIG", "gateway"))
    routes_file: Path | None = Field(None, validation_alias=AliasChoices("GATEWAY_ROUTES_FILE", "routes_file"))
    jwt_jwks_url: str | None = Field(None, validation_alias=AliasChoices("JWT_JWKS_URL", "jwt_jwks_url"))
    redis_url: str | None = Field(None, validation_alias=AliasChoices("REDIS_URL", "redis_url"))
    rate_limits_enabled: bool = Field(
        True, validation_alias=AliasChoices("GATEWAY_RATE_LIMITS_ENABLED", "rate_limits_enabled")
    )
    trust_forwarded_for: bool = Field(
        False, validation_alias=AliasChoices("GATEWAY_TRUST_FORWARDED_FOR", "trust_forwarded_for")
    )
    # The proxies in front of the gateway (CIDRs, comma-separated in the environment) whose X-Forwarded-* headers are
    # believed when trust_forwarded_for is on: the client is the right-most address none of them added.
    trusted_proxies: ProxyNetworks = Field(
        list(LOOPBACK), validation_alias=AliasChoices("GATEWAY_TRUSTED_PROXIES", "trusted_proxies")
    )

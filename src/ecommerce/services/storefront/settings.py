"""proxy-client's own knobs: signing keys, token lifetime, cookies, the sign-in brake and the rate limit."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field

from ecommerce.chassis import ProxyNetworks, ServiceSettings


class StorefrontSettings(ServiceSettings):
    """Settings of the storefront on top of the chassis ones."""

    jwt_private_key_file: Path | None = Field(
        None, validation_alias=AliasChoices("JWT_PRIVATE_KEY_FILE", "jwt_private_key_file")
    )
    # PEM bundle of earlier keys (public or private) still published in the JWKS after a rotation.
    jwt_previous_keys_file: Path | None = Field(
        None, validation_alias=AliasChoices("JWT_PREVIOUS_KEYS_FILE", "jwt_previous_keys_file")
    )
    jwt_ttl_seconds: int = Field(
        3600, ge=60, le=86_400, validation_alias=AliasChoices("JWT_TTL_SECONDS", "jwt_ttl_seconds")
    )
    jwt_issuer: str = Field("proxy-client", validation_alias=AliasChoices("JWT_ISSUER", "jwt_issuer"))
    # None: Secure everywhere except the dev profile, which serves plain http on 127.0.0.1.
    cookie_secure: bool | None = Field(None, validation_alias=AliasChoices("COOKIE_SECURE", "cookie_secure"))
    signin_free_failures: int = Field(
        3, ge=1, validation_alias=AliasChoices("SIGNIN_FREE_FAILURES", "signin_free_failures")
    )
    signin_address_free_failures: int = Field(
        20, ge=1, validation_alias=AliasChoices("SIGNIN_ADDRESS_FREE_FAILURES", "signin_address_free_failures")
    )
    signin_max_delay_seconds: float = Field(
        60.0, gt=0, validation_alias=AliasChoices("SIGNIN_MAX_DELAY_SECONDS", "signin_max_delay_seconds")
    )
    # The proxies in front of the storefront (CIDRs, comma-separated in the environment; none by default): the
    # client is the right-most X-Forwarded-For address none of them added. The sign-in brake and the rate limit
    # key on it.
    trusted_proxies: ProxyNetworks = Field(
        default_factory=list, validation_alias=AliasChoices("STOREFRONT_TRUSTED_PROXIES", "trusted_proxies")
    )
    # The token bucket per client (signed-in user, else client address) in front of everything under /app: enough
    # for a browser loading a page with its script, styles and a dozen product pictures several times a second.
    rate_limit_per_second: float = Field(
        100.0, gt=0, validation_alias=AliasChoices("STOREFRONT_RATE_LIMIT_PER_SECOND", "rate_limit_per_second")
    )
    rate_limit_burst: int = Field(
        200, ge=1, validation_alias=AliasChoices("STOREFRONT_RATE_LIMIT_BURST", "rate_limit_burst")
    )
    page_size: int = Field(12, ge=1, le=100, validation_alias=AliasChoices("STOREFRONT_PAGE_SIZE", "page_size"))

    @property
    def secure_cookies(self) -> bool:
        """Whether cookies carry the Secure flag."""
        return self.profile != "dev" if self.cookie_secure is None else self.cookie_secure

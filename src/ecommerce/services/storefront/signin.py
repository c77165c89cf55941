"""Sign-in: check the password with user-service, brake repeated failures, sign the token."""

from __future__ import annotations

from fastapi import Request
from prometheus_client import Counter

from ecommerce.chassis import ServiceError, Unauthorized
from ecommerce.chassis.security import Principal
from ecommerce.services.storefront import clients
from ecommerce.services.storefront.auth import check
from ecommerce.services.storefront.settings import StorefrontSettings
from ecommerce.services.storefront.throttle import FailureThrottle
from ecommerce.services.storefront.tokens import ROLE_USER, issue

SIGNINS = Counter("shop_signins", "Sign-in attempts by outcome", ["application", "outcome"])


class TooManyAttempts(ServiceError):
    status = 429


async def sign_in(request: Request, username: str, password: str) -> tuple[str, Principal]:
    """A fresh token for the user; Unauthorized for wrong credentials, 429 while braked."""
    settings: StorefrontSettings = request.app.state.settings
    by_user: FailureThrottle = request.app.state.signin_throttle
    by_address: FailureThrottle = request.app.state.address_throttle
    user_key = f"user:{username.strip().lower()}"
    address_key = f"address:{request.client.host if request.client else 'unknown'}"
    wait = max(by_user.retry_after(user_key), by_address.retry_after(address_key))
    if wait:
        SIGNINS.labels("proxy-client", "THROTTLED").inc()
        raise TooManyAttempts(f"Too many failed sign-ins; try again in {wait} s", headers={"Retry-After": str(wait)})
    verified = await clients.verify_credentials(clients.Peers.of(request), username, password)
    if verified is None:
        by_user.failed(user_key)
        by_address.failed(address_key)
        SIGNINS.labels("proxy-client", "FAILURE").inc()
        raise Unauthorized("Bad credentials")
    by_user.succeeded(user_key)
    SIGNINS.labels("proxy-client", "SUCCESS").inc()
    token = issue(
        request.app.state.keys,
        user_id=int(verified["userId"]),
        username=str(verified.get("username") or username),
        role=str(verified.get("roleBasedAuthority") or ROLE_USER),
        ttl_seconds=settings.jwt_ttl_seconds,
        issuer=settings.jwt_issuer,
    )
    principal = await check(request, token)
    request.state.user_token = token  # the visitor's calls to peers during this request carry it on
    return token, principal

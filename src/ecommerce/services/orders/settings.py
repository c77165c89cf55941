"""order-service settings."""

from pydantic import AliasChoices, Field

from ecommerce.chassis import ServiceSettings


class OrderSettings(ServiceSettings):
    """order-service knobs: how long a checkout may hold its Idempotency-Key before it counts as abandoned (its
    runner died) and is undone by the background worker; longer than any checkout takes, peer retries included."""

    checkout_lease_seconds: float = Field(
        60.0, ge=5, le=3600, validation_alias=AliasChoices("CHECKOUT_LEASE_SECONDS", "checkout_lease_seconds")
    )

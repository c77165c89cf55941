"""user-service settings."""

from pydantic import AliasChoices, Field

from ecommerce.chassis import ServiceSettings


class UserSettings(ServiceSettings):
    """user-service knobs: the bcrypt cost of new password hashes (env BCRYPT_ROUNDS), the longest token life."""

    bcrypt_rounds: int = Field(12, ge=4, le=16, validation_alias=AliasChoices("BCRYPT_ROUNDS", "bcrypt_rounds"))
    # The longest lifetime a user token may have (the storefront allows at most a day): revocation floors set
    # longer ago than this concern expired tokens only and are no longer listed.
    token_max_lifetime_seconds: int = Field(
        86_400,
        ge=60,
        validation_alias=AliasChoices("TOKEN_MAX_LIFETIME_SECONDS", "token_max_lifetime_seconds"),
    )

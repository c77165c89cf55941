"""user-service settings."""

from pydantic import AliasChoices, Field

from ecommerce.chassis import ServiceSettings


class UserSettings(ServiceSettings):
    """user-service knobs: the bcrypt cost of new password hashes (env BCRYPT_ROUNDS)."""

    bcrypt_rounds: int = Field(12, ge=4, le=16, validation_alias=AliasChoices("BCRYPT_ROUNDS", "bcrypt_rounds"))

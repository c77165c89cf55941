"""The registry's own knobs: leases, eviction, self-preservation, peers."""

from __future__ import annotations

from pydantic import AliasChoices, Field

from ecommerce.chassis import ServiceSettings


class RegistrySettings(ServiceSettings):
    """Eureka server settings; the defaults are Eureka's."""

    lease_renewal_seconds: float = Field(
        30.0, gt=0, validation_alias=AliasChoices("EUREKA_LEASE_RENEWAL_SECONDS", "lease_renewal_seconds")
    )
    lease_duration_seconds: float = Field(
        90.0, gt=0, validation_alias=AliasChoices("EUREKA_LEASE_DURATION_SECONDS", "lease_duration_seconds")
    )
    eviction_interval_seconds: float = Field(
        30.0, gt=0, validation_alias=AliasChoices("EUREKA_EVICTION_INTERVAL_SECONDS", "eviction_interval_seconds")
    )
    delta_retention_seconds: float = Field(
        180.0, gt=0, validation_alias=AliasChoices("EUREKA_DELTA_RETENTION_SECONDS", "delta_retention_seconds")
    )
    self_preservation: bool = Field(
        True, validation_alias=AliasChoices("EUREKA_SELF_PRESERVATION", "self_preservation")
    )
    renewal_percent_threshold: float = Field(
        0.85, gt=0, le=1, validation_alias=AliasChoices("EUREKA_RENEWAL_PERCENT_THRESHOLD", "renewal_percent_threshold")
    )
    self_preservation_min_instances: int = Field(
        3,
        ge=1,
        validation_alias=AliasChoices("EUREKA_SELF_PRESERVATION_MIN_INSTANCES", "self_preservation_min_instances"),
    )
    # Comma-separated Eureka URLs of every replica (http://service-discovery-0.service-discovery-peers:8761/eureka/);
    # a replica recognises and skips its own.
    peer_urls: str = Field("", validation_alias=AliasChoices("DISCOVERY_PEER_URLS", "peer_urls"))
    replication_timeout_seconds: float = Field(
        2.0, gt=0, validation_alias=AliasChoices("EUREKA_REPLICATION_TIMEOUT_SECONDS", "replication_timeout_seconds")
    )
    # The registry does not register with itself (the original's `register-with-eureka: false`).
    register_with_registry: bool = Field(
        False, validation_alias=AliasChoices("EUREKA_CLIENT_REGISTER_WITH_EUREKA", "register_with_registry")
    )

    @property
    def peers_list(self) -> list[str]:
        return [url.strip() for url in self.peer_urls.split(",") if url.strip()]

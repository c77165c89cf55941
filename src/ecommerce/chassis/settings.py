"""Typed settings shared by every service.

Precedence, lowest first: field defaults < values from the config server < environment variables.
The config server's values arrive as constructor arguments, and `settings_customise_sources` ranks the
environment above them, so an operator's environment variable always wins.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

Profile = Literal["dev", "qa", "prod"]

S = TypeVar("S", bound="ServiceSettings")


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class ServiceSettings(BaseSettings):
    """What every component can be told. Subclass per service for its own knobs."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    profile: Profile = Field("dev", validation_alias=_env("ECOMMERCE_PROFILE", "profile"))
    log_level: str = Field("INFO", validation_alias=_env("ECOMMERCE_LOG_LEVEL", "log_level"))
    access_log: bool = Field(True, validation_alias=_env("ECOMMERCE_ACCESS_LOG", "access_log"))
    data_dir: Path = Field(Path(".data"), validation_alias=_env("ECOMMERCE_DATA_DIR", "data_dir"))
    git_commit: str = Field("unknown", validation_alias=_env("ECOMMERCE_GIT_COMMIT", "git_commit"))
    seed_demo_data: bool | None = Field(None, validation_alias=_env("ECOMMERCE_SEED", "seed_demo_data"))

    database_url: str | None = Field(None, validation_alias=_env("DATABASE_URL", "database_url"))
    db_pool_size: int = Field(10, ge=1, validation_alias=_env("DB_POOL_SIZE", "db_pool_size"))
    db_max_overflow: int = Field(10, ge=0, validation_alias=_env("DB_MAX_OVERFLOW", "db_max_overflow"))
    db_pool_timeout: float = Field(5.0, gt=0, validation_alias=_env("DB_POOL_TIMEOUT", "db_pool_timeout"))

    instance_host: str = Field("127.0.0.1", validation_alias=_env("ECOMMERCE_INSTANCE_HOST", "instance_host"))
    discovery_url: str | None = Field(
        None, validation_alias=_env("DISCOVERY_URL", "EUREKA_CLIENT_SERVICEURL_DEFAULTZONE", "discovery_url")
    )
    config_server_url: str | None = Field(
        None, validation_alias=_env("CONFIG_SERVER_URL", "SPRING_CLOUD_CONFIG_URI", "config_server_url")
    )
    config_label: str | None = Field(
        None, validation_alias=_env("CONFIG_LABEL", "SPRING_CLOUD_CONFIG_LABEL", "config_label")
    )
    # The port this instance listens on (`ecommerce run --port` sets it); None means the component's own.
    port: int | None = Field(None, ge=1, le=65535, validation_alias=_env("ECOMMERCE_PORT", "port"))
    register_with_registry: bool = Field(
        True, validation_alias=_env("EUREKA_CLIENT_REGISTER_WITH_EUREKA", "register_with_registry")
    )
    registry_renewal_seconds: float = Field(
        30.0, gt=0, validation_alias=_env("EUREKA_INSTANCE_LEASE_RENEWAL_INTERVAL", "registry_renewal_seconds")
    )
    registry_lease_seconds: float = Field(
        90.0, gt=0, validation_alias=_env("EUREKA_INSTANCE_LEASE_EXPIRATION_DURATION", "registry_lease_seconds")
    )
    registry_fetch_seconds: float = Field(
        30.0, gt=0, validation_alias=_env("EUREKA_CLIENT_REGISTRY_FETCH_INTERVAL", "registry_fetch_seconds")
    )
    # On SIGTERM: leave the registry, keep serving this long (clients' registry copies refresh every
    # `registry_fetch_seconds`; in-flight and newly arriving requests are answered), then stop (chassis/shutdown.py).
    # 0 where something else drains first (the chart's preStop hook).
    shutdown_drain_seconds: float = Field(
        0.0, ge=0, le=120, validation_alias=_env("ECOMMERCE_SHUTDOWN_DRAIN_SECONDS", "shutdown_drain_seconds")
    )
    peers: dict[str, str] = Field(default_factory=dict, validation_alias=_env("ECOMMERCE_PEERS", "peers"))
    peer_timeout_seconds: float = Field(
        3.0, gt=0, validation_alias=_env("PEER_TIMEOUT_SECONDS", "peer_timeout_seconds")
    )
    peers_by_dns: bool = Field(False, validation_alias=_env("PEERS_BY_DNS", "peers_by_dns"))
    peer_retries: int = Field(2, ge=0, validation_alias=_env("PEER_RETRIES", "peer_retries"))

    otel_endpoint: str | None = Field(None, validation_alias=_env("OTEL_EXPORTER_OTLP_ENDPOINT", "otel_endpoint"))
    trace_sampling_ratio: float = Field(
        0.1, ge=0, le=1, validation_alias=_env("OTEL_TRACES_SAMPLER_ARG", "trace_sampling_ratio")
    )
    max_body_bytes: int = Field(1024 * 1024, gt=0, validation_alias=_env("MAX_BODY_BYTES", "max_body_bytes"))

    # Where the storefront publishes the keys user tokens are signed with (unset: no user token is accepted), and
    # how often the list of revoked tokens is fetched from user-service (security.revocation_poller).
    jwt_jwks_url: str | None = Field(None, validation_alias=_env("JWT_JWKS_URL", "jwt_jwks_url"))
    revocation_poll_seconds: float = Field(
        5.0, gt=0, le=60, validation_alias=_env("REVOCATION_POLL_SECONDS", "revocation_poll_seconds")
    )

    # The reconcilers (chassis/reconcile.py): how often a service that owns a pair of services that must agree looks
    # for divergence (0: only on demand), and how old a row must be before it counts (younger ones are in flight).
    reconcile_interval_seconds: float = Field(
        60.0, ge=0, validation_alias=_env("RECONCILE_INTERVAL_SECONDS", "reconcile_interval_seconds")
    )
    reconcile_grace_seconds: float = Field(
        30.0, ge=0, validation_alias=_env("RECONCILE_GRACE_SECONDS", "reconcile_grace_seconds")
    )

    # The environment's identity secrets (chassis/identity.py): required outside dev, generated under data_dir in dev.
    service_keys: SecretStr | None = Field(None, validation_alias=_env("SERVICE_KEYS", "service_keys"))
    operator_password: SecretStr | None = Field(None, validation_alias=_env("OPERATOR_PASSWORD", "operator_password"))
    prometheus_password: SecretStr | None = Field(
        None, validation_alias=_env("PROMETHEUS_PASSWORD", "prometheus_password")
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment first: it beats the config server values passed as init arguments.
        return env_settings, file_secret_settings, init_settings

    @property
    def seeds_demo_data(self) -> bool:
        """Demo rows are loaded in dev unless told otherwise."""
        return self.profile == "dev" if self.seed_demo_data is None else self.seed_demo_data


def env_name(service_name: str) -> str:
    """`product-service` -> `PRODUCT_SERVICE`, the prefix of a service's own variables."""
    return service_name.upper().replace("-", "_")


def load_settings(cls: type[S], service_name: str, remote: dict[str, Any] | None = None) -> S:
    """Build a service's settings: defaults, then config-server values, then the environment.

    `<SERVICE>_DATABASE_URL` (e.g. PRODUCT_SERVICE_DATABASE_URL) beats the generic DATABASE_URL so that one
    shell can run several services against different databases.
    """
    settings = cls(**(remote or {}))
    specific = os.environ.get(f"{env_name(service_name)}_DATABASE_URL")
    if specific:
        settings = settings.model_copy(update={"database_url": specific})
    return settings


def sqlite_url(data_dir: Path, service_name: str) -> str:
    """The embedded default: one SQLite file per service under the data folder."""
    data_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite+aiosqlite:///{(data_dir / f'{service_name}.db').resolve()}"

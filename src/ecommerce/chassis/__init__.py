"""The chassis every component is built from. It knows no business domain."""

from ecommerce.chassis.actuator import HealthCheck, add_health_check, add_refresher
from ecommerce.chassis.app import ServiceSpec, create_app
from ecommerce.chassis.database import Base, Database, DbSession, TimestampMixin, is_empty, new_metadata, sync_sequence
from ecommerce.chassis.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    ServiceError,
    ServiceUnavailable,
    Unauthorized,
)
from ecommerce.chassis.settings import ServiceSettings, load_settings
from ecommerce.chassis.wire import ApiModel, Collection, LocalDate, LocalDateTime, Money

__all__ = [
    "ApiModel",
    "BadRequest",
    "Base",
    "Collection",
    "Conflict",
    "Database",
    "DbSession",
    "Forbidden",
    "HealthCheck",
    "LocalDate",
    "LocalDateTime",
    "Money",
    "NotFound",
    "ServiceError",
    "ServiceSettings",
    "ServiceSpec",
    "ServiceUnavailable",
    "TimestampMixin",
    "Unauthorized",
    "add_health_check",
    "add_refresher",
    "create_app",
    "is_empty",
    "load_settings",
    "new_metadata",
    "sync_sequence",
]

"""The route table: its YAML shape, where it is read from, and the compiled form the hot path uses."""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ecommerce import components

DEFAULT_FILE = Path(__file__).with_name("routes.yml")


def _kebab(name: str) -> str:
    return name.replace("_", "-")


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=_kebab, populate_by_name=True, extra="forbid", frozen=True)


class Access(StrEnum):
    PUBLIC = "public"
    AUTHENTICATED = "authenticated"
    ADMIN = "admin"
    INTERNAL = "internal"


class RateLimitConfig(_Model):
    rate: float = Field(gt=0, description="tokens added per second")
    burst: int = Field(ge=1, description="bucket size")


class RouteDefaults(_Model):
    timeout: float = Field(10.0, gt=0)
    connect_timeout: float = Field(1.0, gt=0)
    retries: int = Field(2, ge=0, le=5)
    max_body_bytes: int = Field(1024 * 1024, gt=0)
    rate_limit: RateLimitConfig | None = None


# The gateway's own management root (a route owning it would proxy, and so bypass, the management guard) and the
# dot segments.
RESERVED_PREFIXES = frozenset({"actuator", ".", ".."})


class RouteConfig(_Model):
    id: str
    path: str
    service: str
    urls: tuple[str, ...] = ()
    timeout: float | None = Field(None, gt=0)
    connect_timeout: float | None = Field(None, gt=0)
    retries: int | None = Field(None, ge=0, le=5)
    max_body_bytes: int | None = Field(None, gt=0)
    rate_limit: RateLimitConfig | None | bool = None  # None: the default; false: no limit

    @field_validator("path")
    @classmethod
    def _prefix_route(cls, path: str) -> str:
        if not re.fullmatch(r"/[A-Za-z0-9._-]+/\*\*", path):
            raise ValueError("route paths have the form /<prefix>/**")
        if path[1:-3] in RESERVED_PREFIXES:
            raise ValueError(f"/{path[1:-3]}/ is not a prefix a route may own")
        return path

    @property
    def prefix(self) -> str:
        """The first path segment the route owns (`product-service` for `/product-service/**`)."""
        return self.path[1:-3]


class RuleConfig(_Model):
    path: str
    methods: tuple[str, ...] | None = None
    access: Access


class RetryBudgetConfig(_Model):
    ratio: float = Field(0.2, ge=0, le=1)
    minimum: int = Field(10, ge=0)


class CorsConfig(_Model):
    allowed_origins: tuple[str, ...] = ()
    allowed_methods: tuple[str, ...] = ("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")
    allowed_headers: tuple[str, ...] = ("*",)
    exposed_headers: tuple[str, ...] = ("*",)
    allow_credentials: bool = True
    max_age: int = 1800


class GatewayConfig(_Model):
    defaults: RouteDefaults = RouteDefaults()
    retry_budget: RetryBudgetConfig = RetryBudgetConfig()
    cors: CorsConfig = CorsConfig()
    routes: tuple[RouteConfig, ...]
    policy: tuple[RuleConfig, ...] = ()

    @field_validator("routes")
    @classmethod
    def _unique(cls, routes: tuple[RouteConfig, ...]) -> tuple[RouteConfig, ...]:
        for attribute in ("id", "prefix"):
            values = [getattr(route, attribute) for route in routes]
            if len(values) != len(set(values)):
                raise ValueError(f"route {attribute}s must be unique")
        return routes


def load_config(inline: dict[str, Any] | None = None, path: Path | None = None) -> GatewayConfig:
    """The route table: inline settings (config server) win, then a file, then the packaged default."""
    if inline:
        return GatewayConfig.model_validate(with_routes(inline.get("gateway", inline)))
    document = yaml.safe_load((path or DEFAULT_FILE).read_text())
    return GatewayConfig.model_validate(with_routes(document["gateway"]))


def with_routes(document: dict[str, Any]) -> dict[str, Any]:
    """The document, with the routes of the component table (ecommerce/components.py) unless it lists its own."""
    return document if "routes" in document else {**document, "routes": components.gateway_routes()}


def glob_regex(glob: str) -> re.Pattern[str]:
    """Compile an Ant-style path glob: `*` is one segment, `**` any rest, and `/x/**` matches `/x` too."""
    tail = ""
    if glob.endswith("/**"):
        glob, tail = glob[:-3], "(?:/.*)?"
    parts = []
    for token in re.split(r"(\*\*|\*)", glob):
        parts.append(".*" if token == "**" else "[^/]*" if token == "*" else re.escape(token))
    return re.compile("".join(parts) + tail, re.DOTALL)

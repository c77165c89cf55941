"""Settings from the config server: fetched at start (retrying, then defaults), re-read on refresh.

`GET {CONFIG_SERVER_URL}/{name}/{profile}[/{label}]` answers Spring's Environment JSON. Its property sources
(most specific first) are merged, then each key is mapped onto a settings field: `log_level` as is, Spring-style
dotted or dashed keys by joining the words with underscores (`db.pool.size`, `db-pool-size` -> `db_pool_size`),
a few Spring names through `SPRING_ALIASES`, and the rest of a key after a dict field's name as the dict's key
(`peers.user-service` -> `peers["user-service"]`); `x[0]` keys build lists. Keys that match no field are kept
in `app.state.remote_config` (feature flags a service reads itself) and otherwise ignored.

Every request proves this component with HTTP Basic (chassis/identity.py): the credentials in CONFIG_SERVER_URL
when it has some (`http://user:pass@host:9296`, as Spring clients are configured), else the component's name and
the password derived from the mesh key. The server gives a component its own documents only.

Precedence stays defaults < config server < environment: fields already set by the environment (or passed
explicitly) are never overwritten, at start or on refresh.
"""

from __future__ import annotations

import asyncio
import base64
import re
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import orjson
import structlog
from pydantic import ValidationError

from ecommerce.chassis.identity import MeshSecrets, component_password
from ecommerce.chassis.settings import ServiceSettings

if TYPE_CHECKING:
    from fastapi import FastAPI

log = structlog.get_logger("ecommerce.config")

ATTEMPTS = 4
BACKOFF_SECONDS = 0.5
TIMEOUT_SECONDS = 3.0
SPRING_ALIASES = {"logging.level.root": "log_level", "logging.level": "log_level"}
# Changeable at run time by POST /actuator/refresh; a settings class may add names in `refreshable_fields`.
REFRESHABLE = frozenset({"log_level", "access_log", "peer_timeout_seconds", "peer_retries", "trace_sampling_ratio"})
_REFRESHABLE_PATTERN = re.compile(r"^(feature_|features?$)|rate_limit|_timeout(_seconds)?$")
_INDEX = re.compile(r"^(.*)\[(\d+)\]$")


class ConfigServerError(RuntimeError):
    """The config server could not be reached or answered nonsense."""


def fetch_environment(
    url: str,
    name: str,
    profile: str,
    label: str | None = None,
    *,
    attempts: int = ATTEMPTS,
    backoff: float = BACKOFF_SECONDS,
    timeout: float = TIMEOUT_SECONDS,
    credentials: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """The Environment JSON for `name`/`profile`, retried with exponential backoff; ConfigServerError at last.

    `credentials` (user, password) prove the caller unless the URL holds credentials of its own.
    """
    target, headers = _request_target(url, name, profile, label, credentials)
    last: Exception | None = None
    for attempt in range(attempts):
        if attempt:
            time.sleep(backoff * 2 ** (attempt - 1))
        try:
            request = urllib.request.Request(target, headers=headers)
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (configured URL)
                document = orjson.loads(response.read())
            if not isinstance(document, dict):
                raise ConfigServerError("the config server answered something other than an Environment")
            return document
        except urllib.error.HTTPError as exc:
            last = exc
            if 400 <= exc.code < 500:  # a wrong name or credentials will not fix themselves
                break
        except (OSError, ValueError, ConfigServerError) as exc:
            last = exc
    raise ConfigServerError(f"config server {target} unreachable: {last}")


def property_map(environment: dict[str, Any]) -> dict[str, Any]:
    """One flat key -> value map from the property sources; the first (most specific) source wins."""
    merged: dict[str, Any] = {}
    for source in reversed(environment.get("propertySources") or []):
        values = source.get("source") if isinstance(source, dict) else None
        if isinstance(values, dict):
            merged.update(values)
    return merged


def settings_values(flat: dict[str, Any], settings_cls: type[ServiceSettings]) -> dict[str, Any]:
    """Map flat config keys onto `settings_cls` field names (see the module docstring)."""
    fields = settings_cls.model_fields
    values: dict[str, Any] = {}
    lists: dict[str, dict[int, Any]] = {}
    for key, value in flat.items():
        key = SPRING_ALIASES.get(key, key)
        indexed = _INDEX.match(key)
        base = indexed.group(1) if indexed else key
        parts = base.split(".")
        for cut in range(len(parts), 0, -1):
            field = "_".join(parts[:cut]).replace("-", "_").lower()
            if field not in fields:
                continue
            if cut < len(parts):
                rest = ".".join(parts[cut:]) + (f"[{indexed.group(2)}]" if indexed else "")
                if not isinstance(values.get(field), dict):
                    values[field] = {}
                values[field][rest] = value
            elif indexed:
                lists.setdefault(field, {})[int(indexed.group(2))] = value
            else:
                values[field] = value
            break
    for field, items in lists.items():
        values[field] = [items[index] for index in sorted(items)]
    for field, value in values.items():
        if isinstance(value, dict):
            values[field] = _unflatten(value)
    return values


def _unflatten(flat: dict[str, Any]) -> dict[str, Any]:
    """`{"routes[0].id": "a", "defaults.timeout": 1}` -> `{"routes": [{"id": "a"}], "defaults": {"timeout": 1}}`."""
    root: dict[str, Any] = {}
    for key, value in flat.items():
        node: Any = root
        parts = re.findall(r"[^.\[\]]+|\[\d+\]", key)
        for position, part in enumerate(parts):
            last = position == len(parts) - 1
            child: Any = value if last else ([] if parts[position + 1].startswith("[") else {})
            if part.startswith("["):
                index = int(part[1:-1])
                node.extend([None] * (index + 1 - len(node)))
                if last or node[index] is None:
                    node[index] = child
                node = node[index]
            else:
                if last or part not in node:
                    node[part] = child
                node = node[part]
    return root


def with_remote_settings(
    service_name: str, settings: ServiceSettings, *, pinned: set[str] | None = None
) -> tuple[ServiceSettings, dict[str, Any]]:
    """`settings` completed with the config server's values; on failure the same settings and a warning."""
    assert settings.config_server_url
    _apply_log_level(service_name, settings.log_level)  # JSON logs already for what happens while fetching
    try:
        environment = fetch_environment(
            settings.config_server_url,
            service_name,
            settings.profile,
            settings.config_label,
            credentials=component_credentials(settings, service_name),
        )
    except ConfigServerError as exc:
        log.warning("config server unavailable; starting with defaults and environment", error=str(exc))
        return settings, {}
    flat = property_map(environment)
    merged = merge(settings, settings_values(flat, type(settings)), pinned=pinned)
    log.info("settings loaded from the config server", version=environment.get("version"), keys=len(flat))
    return merged, flat


def merge(settings: ServiceSettings, remote: dict[str, Any], *, pinned: set[str] | None = None) -> ServiceSettings:
    """A validated copy of `settings` with `remote` values for every field not pinned (set by env or caller)."""
    pinned = set(settings.model_fields_set if pinned is None else pinned)
    updates = {key: value for key, value in remote.items() if key not in pinned}
    base = settings.model_dump()
    while True:
        try:
            return type(settings).model_validate({**base, **updates})
        except ValidationError as exc:
            bad = {str(error["loc"][0]) for error in exc.errors() if error["loc"]}
            if not bad & updates.keys():
                raise
            log.warning("ignoring invalid values from the config server", fields=sorted(bad & updates.keys()))
            updates = {key: value for key, value in updates.items() if key not in bad}


def refreshable(settings_cls: type[ServiceSettings]) -> frozenset[str]:
    """The settings fields that a refresh may change while the service runs."""
    extra = frozenset(getattr(settings_cls, "refreshable_fields", ()))
    names = {name for name in settings_cls.model_fields if _REFRESHABLE_PATTERN.search(name)}
    return REFRESHABLE | extra | names


def remote_refresher(app: FastAPI, pinned: set[str]) -> Callable[[], Awaitable[list[str]]]:
    """A refresher for `add_refresher`: re-fetch, then apply the run-time changeable settings in place."""

    async def refresh() -> list[str]:
        settings: ServiceSettings = app.state.settings
        assert settings.config_server_url
        name = app.state.spec.name
        try:
            environment = await asyncio.to_thread(
                fetch_environment,
                settings.config_server_url,
                name,
                settings.profile,
                settings.config_label,
                attempts=1,
                credentials=component_credentials(settings, name),
            )
        except ConfigServerError as exc:
            log.warning("refresh: config server unavailable", error=str(exc))
            return []
        flat = property_map(environment)
        app.state.remote_config = flat
        fresh = merge(settings, settings_values(flat, type(settings)), pinned=pinned)
        changed = []
        for field in sorted(refreshable(type(settings)) - pinned):
            if field in type(settings).model_fields and getattr(fresh, field) != getattr(settings, field):
                # In place: the peer client and middleware hold this very object.
                setattr(settings, field, getattr(fresh, field))
                changed.append(field)
        if "log_level" in changed:
            _apply_log_level(name, settings.log_level)
        if changed:
            log.info("settings refreshed", changed=changed)
        return changed

    return refresh


def component_credentials(settings: ServiceSettings, service_name: str) -> tuple[str, str]:
    """`service_name`'s HTTP Basic credentials, derived from the environment's mesh key."""
    return service_name, component_password(MeshSecrets.from_settings(settings), service_name)


def _apply_log_level(service_name: str, level: str) -> None:
    from ecommerce.chassis.telemetry import configure_logging

    configure_logging(service_name, level)


def _request_target(
    url: str, name: str, profile: str, label: str | None, credentials: tuple[str, str] | None = None
) -> tuple[str, dict[str, str]]:
    parts = urlsplit(url)
    headers = {"Accept": "application/json"}
    if parts.username is not None:
        credentials = (unquote(parts.username), unquote(parts.password or ""))
        netloc = parts.hostname or ""
        if parts.port:
            netloc = f"{netloc}:{parts.port}"
        parts = parts._replace(netloc=netloc)
    if credentials is not None:
        token = f"{credentials[0]}:{credentials[1]}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(token).decode()
    path = f"{parts.path.rstrip('/')}/{quote(name, safe='')}/{quote(profile, safe='')}"
    if label:
        path += f"/{quote(label.replace('/', '(_)'), safe='()')}"
    return urlunsplit(parts._replace(path=path)), headers

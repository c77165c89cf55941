"""The registry client every service runs: register, renew, deregister, and a cached registry for look-ups.

The instance registers as `host:name:port` under its upper-case name (PRODUCT-SERVICE), renews every
`registry_renewal_seconds`, and re-registers when the registry answers 404 (it restarted or evicted us). A full
copy of the registry is fetched once, then kept current with deltas; when the delta's hash code disagrees with
the copy, the full registry is fetched again. Look-ups (`choose`, `resolve`) work from that copy, so they keep
working while the registry is down; with no copy at all they fall back to the configured peer URL and
otherwise leave the choice to the caller (the peer's well-known address or DNS name).
DISCOVERY_URL may list several registry URLs separated by commas; they are tried in turn.

Every call proves this component to the registry with HTTP Basic (chassis/identity.py): the credentials in the
URL when it has some (`http://user:pass@host:8761/eureka/`, as py-eureka-client and Spring clients are
configured), else the component's name and the password derived from the mesh key.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import aiohttp
import orjson
import structlog
from fastapi import FastAPI

from ecommerce.chassis.identity import MeshSecrets, component_password
from ecommerce.chassis.settings import ServiceSettings

log = structlog.get_logger("ecommerce.discovery.client")

QUARANTINE_SECONDS = 10.0
TIMEOUT_SECONDS = 3.0


@dataclass(frozen=True)
class CachedInstance:
    """What a look-up needs about one instance of a peer."""

    instance_id: str
    base_url: str
    status: str


class RegistryClient:
    """One instance's link to the registry, and its cached view of everybody else."""

    def __init__(
        self,
        *,
        urls: list[str],
        instance: dict[str, Any],
        renewal_seconds: float = 30.0,
        fetch_seconds: float = 30.0,
        fallback: dict[str, str] | None = None,
        authorization: str | None = None,
    ) -> None:
        located = [_split_credentials(url if url.endswith("/") else f"{url}/") for url in urls]
        self.urls = [url for url, _ in located]
        # Per URL: its own credentials, else this component's (`authorization`, an `Authorization` header value).
        self._authorizations = [given or authorization for _, given in located]
        self.instance = instance
        self.app = instance["app"]
        self.instance_id = instance["instanceId"]
        self.renewal_seconds = renewal_seconds
        self.fetch_seconds = fetch_seconds
        self.fallback = dict(fallback or {})
        self.cache: dict[str, dict[str, CachedInstance]] = {}
        self.fetched = False
        self.registered = False
        self._current = 0
        self._cursors: dict[str, itertools.count[int]] = {}
        self._quarantine: dict[str, float] = {}
        self._session: aiohttp.ClientSession | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._heartbeat: asyncio.Task[None] | None = None

    # ---- life cycle ------------------------------------------------------------------------------------

    async def start(self, *, register: bool = True, listening: asyncio.Event | None = None) -> None:
        """Open the connection pool and start heartbeats (when registering) and registry fetches.

        `listening`, when given, is set once the server accepts connections: the instance registers only then, so
        no caller is sent to a port that refuses it (the application starts before uvicorn opens its socket)."""
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT_SECONDS))
        if register:
            self._heartbeat = asyncio.create_task(self._heartbeats(listening))
            self._tasks.append(self._heartbeat)
        self._tasks.append(asyncio.create_task(self._fetches()))

    async def deregister(self) -> None:
        """Leave the registry for good (the start of a graceful shutdown): no more heartbeats, which would
        register us again; the cached copy of everybody else stays current for the calls still made."""
        heartbeat, self._heartbeat = self._heartbeat, None
        if heartbeat is not None:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
            self._tasks.remove(heartbeat)
        if self.registered:
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                await self._call("DELETE", f"apps/{self.app}/{quote(self.instance_id, safe='')}")
                log.info("deregistered", app=self.app, instance=self.instance_id)
            self.registered = False

    async def stop(self) -> None:
        """Stop the loops and deregister (best effort)."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        self._heartbeat = None
        await self.deregister()
        if self._session is not None:
            await self._session.close()
            self._session = None

    # ---- the registry protocol ---------------------------------------------------------------------

    async def register(self) -> bool:
        """POST our instance record; True when the registry took it."""
        self.instance["lastDirtyTimestamp"] = str(int(time.time() * 1000))
        status, _ = await self._call("POST", f"apps/{self.app}", json={"instance": self.instance})
        self.registered = 200 <= status < 300
        if self.registered:
            log.info("registered", app=self.app, instance=self.instance_id)
        return self.registered

    async def renew(self) -> bool:
        """One heartbeat; re-registers when the registry no longer knows us."""
        path = f"apps/{self.app}/{quote(self.instance_id, safe='')}"
        status, _ = await self._call(
            "PUT", path, params={"status": "UP", "lastDirtyTimestamp": self.instance["lastDirtyTimestamp"]}
        )
        if status == 404:
            log.info("registry forgot this instance; registering again", instance=self.instance_id)
            return await self.register()
        return 200 <= status < 300

    async def fetch_full(self) -> None:
        """Replace the cache with the whole registry."""
        status, body = await self._call("GET", "apps/", accept_json=True)
        if status != 200 or not isinstance(body, dict):
            raise aiohttp.ClientError(f"registry answered {status}")
        cache: dict[str, dict[str, CachedInstance]] = {}
        for raw in _instances(body):
            cached = _cached(raw)
            if cached is not None:
                cache.setdefault(str(raw.get("app", "")).upper(), {})[cached.instance_id] = cached
        self.cache = cache
        self.fetched = True

    async def fetch_delta(self) -> None:
        """Apply the recent changes; fall back to a full fetch when the hash codes disagree."""
        status, body = await self._call("GET", "apps/delta", accept_json=True)
        if status != 200 or not isinstance(body, dict):
            raise aiohttp.ClientError(f"registry answered {status}")
        for raw in _instances(body):
            app = str(raw.get("app", "")).upper()
            action = raw.get("actionType")
            instance_id = str(raw.get("instanceId", ""))
            if action == "DELETED":
                self.cache.get(app, {}).pop(instance_id, None)
                if app in self.cache and not self.cache[app]:
                    del self.cache[app]
            else:
                cached = _cached(raw)
                if cached is not None:
                    self.cache.setdefault(app, {})[instance_id] = cached
        expected = body.get("applications", {}).get("apps__hashcode", "")
        if expected != self.hashcode():
            log.info("registry copy out of step; fetching it whole", expected=expected, local=self.hashcode())
            await self.fetch_full()

    def hashcode(self) -> str:
        """The apps hash code of the cached copy (`DOWN_1_UP_2_`)."""
        counts = Counter(item.status for instances in self.cache.values() for item in instances.values())
        return "".join(f"{status}_{counts[status]}_" for status in sorted(counts))

    # ---- look-ups ----------------------------------------------------------------------------------------

    def choose(self, name: str, exclude: frozenset[str] = frozenset()) -> str | None:
        """A base URL of an UP instance of `name` (round robin, skipping `exclude` and recent failures)."""
        urls = [url for url in self.urls_of(name) if url not in exclude]
        if not urls:
            return self.fallback.get(name) if not self.cache.get(name.upper()) else None
        now = time.monotonic()
        healthy = [url for url in urls if self._quarantine.get(url, 0.0) <= now] or urls
        cursor = self._cursors.setdefault(name.upper(), itertools.count())
        return healthy[next(cursor) % len(healthy)]

    async def resolve(self, name: str) -> list[str]:
        """Base URLs (`http://host:port`) of the UP instances of `name`; the configured URL when none is known."""
        urls = self.urls_of(name)
        if urls:
            return urls
        if not self.fetched:
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                await self.fetch_full()
            urls = self.urls_of(name)
        if not urls and name in self.fallback:
            return [self.fallback[name]]
        return urls

    def urls_of(self, name: str) -> list[str]:
        """Cached base URLs of the UP instances of `name` (lower- or upper-case)."""
        instances = self.cache.get(name.upper(), {})
        return sorted(item.base_url for item in instances.values() if item.status == "UP")

    def report_failure(self, base_url: str) -> None:
        """Keep a failing instance out of rotation for a while (the registry will notice later)."""
        self._quarantine[base_url] = time.monotonic() + QUARANTINE_SECONDS

    # ---- internals ---------------------------------------------------------------------------------------

    async def _heartbeats(self, listening: asyncio.Event | None = None) -> None:
        if listening is not None:
            await listening.wait()
        while True:
            try:
                if not self.registered:
                    await self.register()
                else:
                    await self.renew()
            except (aiohttp.ClientError, TimeoutError) as exc:
                log.warning("registry unreachable", error=type(exc).__name__, registered=self.registered)
                self.registered = False
            await asyncio.sleep(self.renewal_seconds)

    async def _fetches(self) -> None:
        while True:
            try:
                if self.fetched:
                    await self.fetch_delta()
                else:
                    await self.fetch_full()
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                log.info("registry fetch failed; keeping the cached copy", error=type(exc).__name__)
            await asyncio.sleep(self.fetch_seconds)

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
        accept_json: bool = False,
    ) -> tuple[int, Any]:
        """One request to the first registry that answers, starting with the last one that did."""
        assert self._session is not None
        accept = {"Accept": "application/json"} if accept_json else {}
        data = None
        if json is not None:
            accept["Content-Type"] = "application/json"
            data = orjson.dumps(json)
        error: Exception | None = None
        for offset in range(len(self.urls)):
            index = (self._current + offset) % len(self.urls)
            authorization = self._authorizations[index]
            headers = {**accept, "Authorization": authorization} if authorization else accept
            try:
                async with self._session.request(
                    method, self.urls[index] + path, data=data, params=params, headers=headers
                ) as response:
                    raw = await response.read()
                    self._current = index
                    body = orjson.loads(raw) if accept_json and response.status == 200 else None
                    return response.status, body
            except (aiohttp.ClientError, TimeoutError) as exc:
                error = exc
        raise error if isinstance(error, aiohttp.ClientError) else aiohttp.ClientError(str(error))


def instance_record(settings: ServiceSettings, *, name: str, port: int, context_path: str) -> dict[str, Any]:
    """Our Eureka instance record, in the JSON shape real Eureka clients send."""
    host = settings.instance_host
    base = f"http://{host}:{port}"
    actuator = f"{context_path}/actuator"
    now = str(int(time.time() * 1000))
    return {
        "instanceId": f"{host}:{name}:{port}",
        "hostName": host,
        "app": name.upper(),
        "ipAddr": host,
        "status": "UP",
        "overriddenstatus": "UNKNOWN",
        "port": {"$": port, "@enabled": "true"},
        "securePort": {"$": 443, "@enabled": "false"},
        "countryId": 1,
        "dataCenterInfo": {"@class": "com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo", "name": "MyOwn"},
        "leaseInfo": {
            "renewalIntervalInSecs": int(max(1, settings.registry_renewal_seconds)),
            "durationInSecs": int(max(1, settings.registry_lease_seconds)),
        },
        "metadata": {"management.port": str(port), "context-path": context_path or "/", "profile": settings.profile},
        "homePageUrl": f"{base}{context_path}/",
        "statusPageUrl": f"{base}{actuator}/info",
        "healthCheckUrl": f"{base}{actuator}/health",
        "secureHealthCheckUrl": "",
        "vipAddress": name,
        "secureVipAddress": name,
        "isCoordinatingDiscoveryServer": "false",
        "lastUpdatedTimestamp": now,
        "lastDirtyTimestamp": now,
    }


@contextlib.asynccontextmanager
async def registry_extension(app: FastAPI) -> AsyncIterator[None]:
    """Chassis extension: register this instance and keep `app.state.registry` current until shutdown."""
    settings: ServiceSettings = app.state.settings
    spec = app.state.spec
    assert settings.discovery_url
    port = settings.port or spec.port
    secrets = MeshSecrets.from_settings(settings)
    client = RegistryClient(
        urls=[url.strip() for url in settings.discovery_url.split(",") if url.strip()],
        instance=instance_record(settings, name=spec.name, port=port, context_path=spec.context_path),
        renewal_seconds=settings.registry_renewal_seconds,
        fetch_seconds=settings.registry_fetch_seconds,
        fallback=settings.peers,
        authorization=aiohttp.encode_basic_auth(spec.name, component_password(secrets, spec.name)),
    )
    app.state.registry = client
    # Set by chassis/shutdown.py's server once its socket is open; absent when another server runs the app.
    listening = app.state._state.get("listening")
    await client.start(register=settings.register_with_registry, listening=listening)
    try:
        yield
    finally:
        await client.stop()


def _split_credentials(url: str) -> tuple[str, str | None]:
    """(the URL without user info, an `Authorization` header value for the credentials it held, if any)."""
    parts = urlsplit(url)
    if parts.username is None:
        return url, None
    netloc = parts.hostname or ""
    if ":" in netloc:  # an IPv6 address
        netloc = f"[{netloc}]"
    if parts.port is not None:
        netloc = f"{netloc}:{parts.port}"
    authorization = aiohttp.encode_basic_auth(unquote(parts.username), unquote(parts.password or ""))
    return urlunsplit(parts._replace(netloc=netloc)), authorization


def _instances(body: dict[str, Any]) -> list[dict[str, Any]]:
    applications = body.get("applications", {})
    apps = applications.get("application", []) if isinstance(applications, dict) else []
    if isinstance(apps, dict):
        apps = [apps]
    out: list[dict[str, Any]] = []
    for application in apps:
        instances = application.get("instance", [])
        out.extend([instances] if isinstance(instances, dict) else instances)
    return out


def _cached(raw: dict[str, Any]) -> CachedInstance | None:
    port = raw.get("port")
    number = port.get("$") if isinstance(port, dict) else port
    host = raw.get("hostName") or raw.get("ipAddr")
    if not host or number is None:
        return None
    return CachedInstance(str(raw.get("instanceId", "")), f"http://{host}:{int(number)}", str(raw.get("status", "")))

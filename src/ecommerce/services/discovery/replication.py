"""Replication between registry replicas, as Eureka peers do it.

A change a client makes on one replica is forwarded to every other replica with the header
`x-netflix-discovery-replication: true`; a replica never forwards what it received that way, so there are no
loops. A renewal the peer does not know (404) is followed by a full register. A replica that starts copies the
registry of the first peer that answers, so a restarted replica gives the same answers as its peers at once.
Replicas prove themselves to each other as the component service-discovery (HTTP Basic, chassis/identity.py):
only a proven replica may write every application and have its changes taken without forwarding them again.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp
import orjson
import structlog

from ecommerce.chassis import MeshSecrets, component_password
from ecommerce.services.discovery import codec
from ecommerce.services.discovery.access import REGISTRY
from ecommerce.services.discovery.registry import Registry

log = structlog.get_logger("ecommerce.discovery.replication")

REPLICATION_HEADER = "x-netflix-discovery-replication"
QUEUE_LIMIT = 10_000


@dataclass(frozen=True)
class Task:
    """One change to forward: register, renew, cancel, status or delete-status."""

    action: str
    app: str
    instance_id: str
    params: tuple[tuple[str, str], ...] = ()


def is_self(url: str, *, port: int, hosts: set[str]) -> bool:
    """Whether a peer URL points at this replica (same port, and our host name, FQDN or address)."""
    parts = urlsplit(url)
    if (parts.port or 80) != port or not parts.hostname:
        return False
    names = {name.lower() for name in hosts | {socket.gethostname(), socket.getfqdn()} if name}
    host = parts.hostname.lower()
    return host in names or any(host.startswith(f"{name}.") for name in names if "." not in name)


class Replicator:
    """A queue and a worker per peer; `submit` never blocks a client's request."""

    def __init__(self, registry: Registry, peers: list[str], *, timeout: float, secrets: MeshSecrets) -> None:
        self.registry = registry
        self.secrets = secrets
        self.peers = [peer if peer.endswith("/") else f"{peer}/" for peer in peers]
        self.timeout = timeout
        self.queues: dict[str, asyncio.Queue[Task]] = {peer: asyncio.Queue(QUEUE_LIMIT) for peer in self.peers}
        self.workers: list[asyncio.Task[None]] = []
        self.session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        if not self.peers:
            return
        self.session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.timeout),
            headers={
                REPLICATION_HEADER: "true",
                "Authorization": aiohttp.encode_basic_auth(REGISTRY, component_password(self.secrets, REGISTRY)),
            },
        )
        self.workers = [asyncio.create_task(self._work(peer)) for peer in self.peers]

    async def stop(self) -> None:
        for worker in self.workers:
            worker.cancel()
        for worker in self.workers:
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        if self.session is not None:
            await self.session.close()

    def submit(self, task: Task) -> None:
        """Queue a change for every peer; a full queue drops it (the peer catches up by renewals)."""
        for peer, queue in self.queues.items():
            try:
                queue.put_nowait(task)
            except asyncio.QueueFull:
                log.warning("replication queue full", peer=peer, action=task.action)

    async def sync_up(self) -> int:
        """Copy the registry of the first peer that answers; returns how many instances were copied."""
        if self.session is None:
            return 0
        for peer in self.peers:
            try:
                async with self.session.get(f"{peer}apps/", headers={"Accept": "application/json"}) as response:
                    if response.status != 200:
                        continue
                    document = orjson.loads(await response.read())
            except (aiohttp.ClientError, TimeoutError, orjson.JSONDecodeError) as exc:
                log.info("peer not reachable for sync", peer=peer, error=type(exc).__name__)
                continue
            copied = 0
            for application in document.get("applications", {}).get("application", []):
                for raw in application.get("instance", []):
                    with contextlib.suppress(codec.InvalidInstance):
                        self.registry.register(codec.normalize(raw))
                        copied += 1
            log.info("registry copied from peer", peer=peer, instances=copied)
            return copied
        return 0

    async def _work(self, peer: str) -> None:
        queue = self.queues[peer]
        while True:
            task = await queue.get()
            try:
                await self._send(peer, task)
            except (aiohttp.ClientError, TimeoutError) as exc:
                log.info("replication failed", peer=peer, action=task.action, error=type(exc).__name__)

    async def _send(self, peer: str, task: Task) -> None:
        assert self.session is not None
        path = f"{peer}apps/{quote(task.app, safe='')}"
        instance = f"{path}/{quote(task.instance_id, safe='')}"
        params = dict(task.params)
        if task.action == "register":
            await self._register(path, task)
        elif task.action == "renew":
            async with self.session.put(instance, params=params) as response:
                if response.status == 404:
                    await self._register(path, task)
        elif task.action == "cancel":
            async with self.session.delete(instance):
                pass
        elif task.action == "status":
            async with self.session.put(f"{instance}/status", params=params):
                pass
        elif task.action == "delete-status":
            async with self.session.delete(f"{instance}/status", params=params):
                pass

    async def _register(self, path: str, task: Task) -> None:
        assert self.session is not None
        lease = self.registry.lease(task.app, task.instance_id)
        if lease is None:
            return
        body: dict[str, Any] = {"instance": lease.view()}
        body["instance"]["lastDirtyTimestamp"] = str(lease.record["lastDirtyTimestamp"])
        async with self.session.post(path, data=orjson.dumps(body), headers={"Content-Type": "application/json"}):
            pass

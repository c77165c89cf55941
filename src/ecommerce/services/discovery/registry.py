"""The registry's state: instances with leases, the recent-changes queue behind deltas, eviction.

Leases are renewed by heartbeats and expire after their duration. The eviction pass drops expired leases unless
self-preservation holds: when more than `1 - renewal_percent_threshold` of the leases lapse at the same time the
fault is more likely the network than the instances, so nothing is evicted until heartbeats come back (explicit
cancels still work). Every change goes to a queue kept for `delta_retention_seconds`, which `apps/delta` serves.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import structlog
from prometheus_client import Counter as MetricCounter
from prometheus_client import Gauge

from ecommerce.services.discovery.codec import now_ms

log = structlog.get_logger("ecommerce.discovery")

INSTANCES = Gauge(
    "eureka_instances", "Registered instances by application and status", ["application", "app", "status"]
)
RENEWALS = MetricCounter("eureka_renewals", "Heartbeats accepted", ["application"])
EVICTIONS = MetricCounter("eureka_evictions", "Leases dropped because they expired", ["application"])
SELF_PRESERVATION = Gauge("eureka_self_preservation", "1 while the registry refuses to evict", ["application"])

APPLICATION = "service-discovery"


@dataclass
class Lease:
    """One registered instance and the times that decide whether it is still alive."""

    record: dict[str, Any]
    duration: float
    renewal_interval: float
    registered_at: float
    renewed_at: float
    service_up_at: float = 0.0

    def expired(self, now: float) -> bool:
        return now > self.renewed_at + self.duration

    def view(self) -> dict[str, Any]:
        """The record as clients see it, with its lease information filled in."""
        out = dict(self.record)
        out["leaseInfo"] = {
            "renewalIntervalInSecs": int(self.renewal_interval),
            "durationInSecs": int(self.duration),
            "registrationTimestamp": int(self.registered_at * 1000),
            "lastRenewalTimestamp": int(self.renewed_at * 1000),
            "evictionTimestamp": 0,
            "serviceUpTimestamp": int(self.service_up_at * 1000),
        }
        return out


@dataclass
class Change:
    at: float
    action: str
    view: dict[str, Any]


@dataclass
class Registry:
    """All leases by upper-case application name, then by instance id."""

    default_duration: float = 90.0
    default_renewal_interval: float = 30.0
    delta_retention: float = 180.0
    self_preservation: bool = True
    renewal_percent_threshold: float = 0.85
    self_preservation_min_instances: int = 3
    clock: Callable[[], float] = time.time
    apps: dict[str, dict[str, Lease]] = field(default_factory=dict)
    changes: deque[Change] = field(default_factory=deque)
    version: int = 0
    preserving: bool = False
    started_at: float = field(default_factory=time.time)

    # ---- writes ----------------------------------------------------------------------------------------

    def register(self, record: dict[str, Any]) -> Lease:
        """Add or replace an instance; a newer record already held wins over a stale one."""
        now = self.clock()
        app, instance_id = record["app"], record["instanceId"]
        existing = self.apps.get(app, {}).get(instance_id)
        if existing is not None and existing.record["lastDirtyTimestamp"] > record["lastDirtyTimestamp"]:
            record = {**existing.record}
        if existing is not None and record["overriddenstatus"] == "UNKNOWN":
            # An operator's override (OUT_OF_SERVICE before a shutdown) survives the client re-registering.
            record["overriddenstatus"] = existing.record["overriddenstatus"]
        if record["overriddenstatus"] != "UNKNOWN":
            record["status"] = record["overriddenstatus"]
        lease_info = record.get("leaseInfo") or {}
        lease = Lease(
            record=record,
            duration=float(lease_info.get("durationInSecs") or self.default_duration),
            renewal_interval=float(lease_info.get("renewalIntervalInSecs") or self.default_renewal_interval),
            registered_at=existing.registered_at if existing else now,
            renewed_at=now,
            service_up_at=(existing.service_up_at if existing and existing.service_up_at else 0.0),
        )
        if record["status"] == "UP" and not lease.service_up_at:
            lease.service_up_at = now
        record["lastUpdatedTimestamp"] = now_ms()
        self.apps.setdefault(app, {})[instance_id] = lease
        self._changed("ADDED" if existing is None else "MODIFIED", lease)
        log.info("registered", app=app, instance=instance_id, status=record["status"])
        return lease

    def renew(self, app: str, instance_id: str, *, last_dirty: int | None = None) -> bool:
        """Extend a lease; False (answered 404) when unknown or when the client holds newer data."""
        lease = self.lease(app, instance_id)
        if lease is None:
            return False
        if last_dirty is not None and last_dirty > lease.record["lastDirtyTimestamp"]:
            return False
        lease.renewed_at = self.clock()
        RENEWALS.labels(APPLICATION).inc()
        return True

    def cancel(self, app: str, instance_id: str) -> bool:
        """Remove an instance (it is shutting down); False when unknown."""
        lease = self.apps.get(app.upper(), {}).pop(instance_id, None)
        if lease is None:
            return False
        if not self.apps[app.upper()]:
            del self.apps[app.upper()]
        self._changed("DELETED", lease)
        log.info("cancelled", app=app.upper(), instance=instance_id)
        return True

    def override_status(self, app: str, instance_id: str, value: str | None, last_dirty: int | None = None) -> bool:
        """Set (value) or clear (None) the operator's status override."""
        lease = self.lease(app, instance_id)
        if lease is None:
            return False
        record = lease.record
        if value is None:
            record["overriddenstatus"] = "UNKNOWN"
            record["status"] = "UP"
        else:
            record["overriddenstatus"] = value
            record["status"] = value
        if last_dirty:
            record["lastDirtyTimestamp"] = max(record["lastDirtyTimestamp"], last_dirty)
        record["lastUpdatedTimestamp"] = now_ms()
        self._changed("MODIFIED", lease)
        return True

    def evict(self) -> list[Lease]:
        """Drop expired leases, unless so many lapsed at once that self-preservation holds them."""
        now = self.clock()
        self._trim_changes(now)
        expired = [lease for leases in self.apps.values() for lease in leases.values() if lease.expired(now)]
        size = self.size()
        preserve = (
            self.self_preservation
            and size >= self.self_preservation_min_instances
            and size - len(expired) < size * self.renewal_percent_threshold
        )
        if preserve != self.preserving:
            self.preserving = preserve
            SELF_PRESERVATION.labels(APPLICATION).set(int(preserve))
            if preserve:
                log.warning("self-preservation on: too many leases lapsed at once", expired=len(expired), size=size)
            else:
                log.info("self-preservation off")
        if preserve or not expired:
            return []
        for lease in expired:
            self.cancel(lease.record["app"], lease.record["instanceId"])
            EVICTIONS.labels(APPLICATION).inc()
            log.warning("evicted", app=lease.record["app"], instance=lease.record["instanceId"])
        return expired

    # ---- reads -----------------------------------------------------------------------------------------

    def lease(self, app: str, instance_id: str) -> Lease | None:
        return self.apps.get(app.upper(), {}).get(instance_id)

    def find(self, instance_id: str) -> Lease | None:
        """An instance by id alone, whatever its application."""
        for leases in self.apps.values():
            if instance_id in leases:
                return leases[instance_id]
        return None

    def size(self) -> int:
        return sum(len(leases) for leases in self.apps.values())

    def views(self, predicate: Callable[[dict[str, Any]], bool] | None = None) -> dict[str, list[dict[str, Any]]]:
        """Every instance as clients see it, grouped by application (optionally filtered)."""
        out: dict[str, list[dict[str, Any]]] = {}
        for app, leases in self.apps.items():
            views = [lease.view() for lease in leases.values() if predicate is None or predicate(lease.record)]
            if views:
                out[app] = sorted(views, key=lambda view: view["instanceId"])
        return out

    def delta_views(self) -> dict[str, list[dict[str, Any]]]:
        """What changed within the retention window, the latest change per instance, with its actionType."""
        self._trim_changes(self.clock())
        latest: dict[str, Change] = {}
        for change in self.changes:
            latest[change.view["instanceId"]] = change
        out: dict[str, list[dict[str, Any]]] = {}
        for change in latest.values():
            out.setdefault(change.view["app"], []).append({**change.view, "actionType": change.action})
        return out

    def hashcode(self) -> str:
        """Eureka's reconcile hash: `{STATUS}_{count}_` per status, by status name (`DOWN_1_UP_2_`)."""
        return hashcode(lease.record["status"] for leases in self.apps.values() for lease in leases.values())

    # ---- internals -------------------------------------------------------------------------------------

    def _changed(self, action: str, lease: Lease) -> None:
        self.version += 1
        self.changes.append(Change(self.clock(), action, lease.view()))
        self._publish()

    def _trim_changes(self, now: float) -> None:
        while self.changes and self.changes[0].at < now - self.delta_retention:
            self.changes.popleft()

    def _publish(self) -> None:
        INSTANCES.clear()
        counts = Counter(
            (app, lease.record["status"]) for app, leases in self.apps.items() for lease in leases.values()
        )
        for (app, status), count in counts.items():
            INSTANCES.labels(APPLICATION, app, status).set(count)


def hashcode(statuses: Iterable[str]) -> str:
    """The apps hash code of a set of instance statuses."""
    counts = Counter(statuses)
    return "".join(f"{status}_{counts[status]}_" for status in sorted(counts))

"""Eureka's REST API under /eureka/: XML unless the client asks for JSON, as the Netflix server answers.

Every call proves its caller (access.py): reads need any component or operator, changes to an application's
leases need that application's own component (or a replica, or an operator), the status page an operator.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import HTMLResponse

from ecommerce.services.discovery import codec
from ecommerce.services.discovery.access import is_replica, registry_caller, require_operator, require_writer
from ecommerce.services.discovery.registry import Registry
from ecommerce.services.discovery.replication import REPLICATION_HEADER, Replicator, Task
from ecommerce.services.discovery.status_page import render_status_page

router = APIRouter(prefix="/eureka", tags=["eureka"], dependencies=[Depends(registry_caller)])
pages = APIRouter(tags=["eureka"])

LastDirty = Annotated[int | None, Query(alias="lastDirtyTimestamp")]


def _registry(request: Request) -> Registry:
    registry: Registry = request.app.state.eureka_registry
    return registry


def _replicate(request: Request, task: Task) -> None:
    """Forward a client's change to the peers; never what a peer (proven a replica) forwarded to us."""
    if request.headers.get(REPLICATION_HEADER, "").lower() == "true" and is_replica(request.state.caller):
        return
    replicator: Replicator | None = request.app.state.eureka_replicator
    if replicator is not None:
        replicator.submit(task)


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "json" in accept and not accept.lower().startswith(("application/xml", "text/xml"))


def _answer(request: Request, document: dict[str, Any]) -> Response:
    body, media_type = codec.render(document, as_json=_wants_json(request))
    return Response(body, media_type=media_type)


def _not_found() -> Response:
    return Response(status_code=404)


@pages.get("/", response_class=HTMLResponse, include_in_schema=False)
@router.get("", response_class=HTMLResponse, include_in_schema=False)
@router.get("/", response_class=HTMLResponse)
async def status_page(request: Request) -> HTMLResponse:
    """The registry at a glance (operators only): instances, their status, uptime and lease ages."""
    require_operator(request)
    return HTMLResponse(render_status_page(request.app))


@router.post("/apps/{app}", status_code=204)
async def register(app: str, request: Request) -> Response:
    """Register (or re-register) an instance of `app` from a JSON or XML body."""
    require_writer(request, app)
    try:
        record = codec.normalize(codec.parse_body(await request.body(), request.headers.get("content-type", "")), app)
    except codec.InvalidInstance as exc:
        return Response(str(exc), status_code=400, media_type="text/plain")
    lease = _registry(request).register(record)
    _replicate(request, Task("register", lease.record["app"], lease.record["instanceId"]))
    return Response(status_code=204)


@router.put("/apps/{app}/{instance_id}")
async def renew(app: str, instance_id: str, request: Request, last_dirty: LastDirty = None) -> Response:
    """A heartbeat; 404 tells the client to register again."""
    require_writer(request, app)
    if not _registry(request).renew(app, instance_id, last_dirty=last_dirty):
        return _not_found()
    params = tuple((key, value) for key, value in request.query_params.items())
    _replicate(request, Task("renew", app.upper(), instance_id, params))
    return Response(status_code=200)


@router.delete("/apps/{app}/{instance_id}")
async def cancel(app: str, instance_id: str, request: Request) -> Response:
    """The instance is going away."""
    require_writer(request, app)
    if not _registry(request).cancel(app, instance_id):
        return _not_found()
    _replicate(request, Task("cancel", app.upper(), instance_id))
    return Response(status_code=200)


@router.put("/apps/{app}/{instance_id}/status")
async def override_status(
    app: str, instance_id: str, request: Request, value: str = Query(...), last_dirty: LastDirty = None
) -> Response:
    """Override the status (OUT_OF_SERVICE takes an instance out of rotation; heartbeats keep it so)."""
    require_writer(request, app)
    status = value.upper()
    if status not in codec.STATUSES:
        return Response(f"unknown status {value}", status_code=400, media_type="text/plain")
    if not _registry(request).override_status(app, instance_id, status, last_dirty):
        return _not_found()
    _replicate(request, Task("status", app.upper(), instance_id, tuple(request.query_params.items())))
    return Response(status_code=200)


@router.delete("/apps/{app}/{instance_id}/status")
async def clear_status(app: str, instance_id: str, request: Request, last_dirty: LastDirty = None) -> Response:
    """Remove the override; the instance is UP again."""
    require_writer(request, app)
    if not _registry(request).override_status(app, instance_id, None, last_dirty):
        return _not_found()
    _replicate(request, Task("delete-status", app.upper(), instance_id, tuple(request.query_params.items())))
    return Response(status_code=200)


@router.get("/apps")
@router.get("/apps/")
async def applications(request: Request) -> Response:
    """The full registry."""
    registry = _registry(request)
    return _answer(request, _applications(registry, registry.views()))


@router.get("/apps/delta")
async def delta(request: Request) -> Response:
    """What changed recently, each instance with its actionType; the hash code is of the whole registry."""
    registry = _registry(request)
    return _answer(request, _applications(registry, registry.delta_views()))


@router.get("/apps/{app}")
async def application(app: str, request: Request) -> Response:
    """One application and its instances."""
    views = _registry(request).views(lambda record: record["app"] == app.upper())
    if not views:
        return _not_found()
    return _answer(request, {"application": {"name": app.upper(), "instance": views[app.upper()]}})


@router.get("/apps/{app}/{instance_id}")
async def app_instance(app: str, instance_id: str, request: Request) -> Response:
    """One instance of one application."""
    lease = _registry(request).lease(app, instance_id)
    return _not_found() if lease is None else _answer(request, {"instance": lease.view()})


@router.get("/instances/{instance_id}")
async def instance(instance_id: str, request: Request) -> Response:
    """One instance by id."""
    lease = _registry(request).find(instance_id)
    return _not_found() if lease is None else _answer(request, {"instance": lease.view()})


@router.get("/vips/{vip}")
async def vip(vip: str, request: Request) -> Response:
    """Instances whose vipAddress lists `vip`."""
    return _by_address(request, "vipAddress", vip)


@router.get("/svips/{svip}")
async def svip(svip: str, request: Request) -> Response:
    """Instances whose secureVipAddress lists `svip`."""
    return _by_address(request, "secureVipAddress", svip)


def _by_address(request: Request, key: str, address: str) -> Response:
    registry = _registry(request)
    views = registry.views(lambda record: address.lower() in record[key].lower().split(","))
    if not views:
        return _not_found()
    return _answer(request, _applications(registry, views))


def _applications(registry: Registry, views: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    return codec.applications_document(views, hashcode=registry.hashcode(), version=registry.version)

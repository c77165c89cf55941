"""Spring Cloud Config's HTTP API: Environment JSON, merged documents, /encrypt and /decrypt.

Every call proves its caller (access.py): a component reads its own application's documents and the shared
ones, an operator everything; `/encrypt` and `/decrypt` are the operator's. Property sources are named relative
to the configuration repository (`order-service.yml`, `v2/order-service.yml`), never by a path on this server.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.convertors import Convertor, register_url_convertor

from ecommerce.chassis import Caller, NotFound
from ecommerce.services.config import crypto, environment
from ecommerce.services.config.access import config_caller, require_operator, require_reader
from ecommerce.services.config.backends import LabelNotFound, Snapshot
from ecommerce.services.config.settings import ConfigServerSettings

_RESERVED = ("actuator", "encrypt", "decrypt", "docs", "openapi.json")


class ConfigNameConvertor(Convertor[str]):
    """A path segment that is not one of the server's own endpoints (so /actuator/health is not an app)."""

    regex = "(?!(?:" + "|".join(name.replace(".", r"\.") for name in _RESERVED) + ")(?:/|$))[^/]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("confname", ConfigNameConvertor())


router = APIRouter(tags=["config"])
Reader = Annotated[Caller, Depends(config_caller)]
Operator = Annotated[Caller, Depends(require_operator)]


@router.post("/encrypt", response_class=PlainTextResponse)
async def encrypt(request: Request, _: Operator) -> Response:
    """Encrypt the text/plain body for use as `{cipher}<value>`."""
    try:
        return PlainTextResponse(crypto.encrypt((await request.body()).decode(), _key(request)))
    except crypto.CipherError as exc:
        return _no_key(str(exc))


@router.post("/decrypt", response_class=PlainTextResponse)
async def decrypt(request: Request, _: Operator) -> Response:
    """Decrypt a value produced by /encrypt."""
    try:
        return PlainTextResponse(crypto.decrypt((await request.body()).decode(), _key(request)))
    except crypto.CipherError as exc:
        status = 404 if _key(request) is None else 400
        return JSONResponse({"description": str(exc), "status": "NO_KEY" if status == 404 else "INVALID"}, status)


@router.get("/encrypt/status")
async def encrypt_status(request: Request, _: Operator) -> dict[str, str]:
    """OK when a key is installed."""
    return {"status": "OK" if _key(request) else "NO_KEY"}


@router.get("/{document:confname}")
async def document(document: str, request: Request, caller: Reader) -> Response:
    """`/{application}-{profile}.yml|.yaml|.properties|.json`: the merged document."""
    return await _document(request, caller, None, document)


@router.get("/{first:confname}/{second}")
async def environment_or_document(first: str, second: str, request: Request, caller: Reader) -> Response:
    """`/{application}/{profile}` (Environment JSON) or `/{label}/{application}-{profile}.ext` (document)."""
    if second.endswith(environment.EXTENSIONS):
        return await _document(request, caller, first, second)
    return JSONResponse(await _environment(request, caller, first, second, None))


@router.get("/{application:confname}/{profile}/{label}")
async def environment_with_label(
    application: str, profile: str, label: str, request: Request, caller: Reader
) -> JSONResponse:
    """`/{application}/{profile}/{label}`: Environment JSON at that label (git branch); `(_)` stands for `/`."""
    return JSONResponse(await _environment(request, caller, application, profile, label.replace("(_)", "/")))


async def _environment(
    request: Request, caller: Caller, application: str, profile: str, label: str | None
) -> dict[str, Any]:
    applications = [name for name in application.split(",") if name]
    require_reader(caller, applications)  # before any file is read
    snapshot = await _snapshot(request, label)
    profiles = [name for name in profile.split(",") if name]
    sources = environment.property_sources(snapshot.root, applications, profiles, origin=snapshot.origin)
    sources = environment.resolve(sources, _key(request))
    return {
        "name": application,
        "profiles": profiles,
        "label": snapshot.label,
        "version": snapshot.version,
        "state": None,
        "propertySources": [{"name": source.name, "source": source.source} for source in sources],
    }


async def _document(request: Request, caller: Caller, label: str | None, filename: str) -> Response:
    stem, dot, extension = filename.rpartition(".")
    application, dash, profile = stem.rpartition("-")
    if not dot or not dash or f".{extension}" not in environment.EXTENSIONS:
        raise NotFound(f"No document {filename}; expected {{application}}-{{profile}}.yml|.yaml|.properties|.json")
    # Names contain dashes too (product-service-dev): the profile is the last dash-separated word.
    env = await _environment(request, caller, application, profile, label)
    flat = environment.merged([environment.PropertySource(s["name"], s["source"]) for s in env["propertySources"]])
    if extension == "properties":
        return PlainTextResponse(environment.to_properties(flat))
    if extension == "json":
        return Response(orjson.dumps(environment.unflatten(flat)), media_type="application/json")
    return PlainTextResponse(environment.to_yaml(flat), media_type="text/plain")


async def _snapshot(request: Request, label: str | None) -> Snapshot:
    try:
        snapshot: Snapshot = await request.app.state.config_backend.snapshot(label)
    except LabelNotFound as exc:
        raise NotFound(f"No such label: {exc}") from None
    return snapshot


def _key(request: Request) -> str | None:
    settings: ConfigServerSettings = request.app.state.settings
    return settings.encrypt_key or None


def _no_key(message: str) -> JSONResponse:
    return JSONResponse({"description": message, "status": "NO_KEY"}, status_code=404)

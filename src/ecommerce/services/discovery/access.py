"""Who may do what at the registry: every /eureka call proves its caller with HTTP Basic (chassis/identity.py).

- reads (the registry, deltas, one application or instance): any proven caller; a component must find its peers;
- register, renew, cancel, status override of application APP: the component whose registry name is APP
  (user-service for USER-SERVICE), a registry replica (service-discovery, which replicates every change), or an
  operator. Anyone else gets 403: a component that could write another's leases could send its traffic anywhere;
- the status page: operators only (it maps the whole shop).

Health stays public: it is served by the actuator, outside /eureka.
"""

from __future__ import annotations

from fastapi import Request

from ecommerce.chassis import Caller, Forbidden, MeshSecrets, Unauthorized, caller_from_basic

REGISTRY = "service-discovery"
_CHALLENGE = {"WWW-Authenticate": 'Basic realm="service-discovery"'}


def registry_caller(request: Request) -> Caller:
    """The proven caller of a registry request (kept on the request for the handlers); 401 otherwise."""
    secrets: MeshSecrets = request.app.state.mesh_secrets
    caller = caller_from_basic(secrets, request.headers.get("authorization"))
    if caller is None:
        raise Unauthorized("The registry needs a component's or an operator's credentials", headers=_CHALLENGE)
    request.state.caller = caller
    return caller


def require_operator(request: Request) -> Caller:
    """The operator, or 401/403."""
    caller = registry_caller(request)
    if not caller.is_operator:
        raise Forbidden("Only an operator may see the registry's status page")
    return caller


def require_writer(request: Request, app: str) -> Caller:
    """A caller that may change the leases of application `app` (its own component, a replica, an operator)."""
    caller: Caller = request.state.caller
    if caller.is_operator or is_replica(caller):
        return caller
    if caller.kind == "component" and caller.name.upper() == app.upper():
        return caller
    raise Forbidden(f"{caller.name} may not change the instances of {app.upper()}")


def is_replica(caller: Caller) -> bool:
    """A registry replica: it forwards every client's change, so it writes every application."""
    return caller.kind == "component" and caller.name == REGISTRY

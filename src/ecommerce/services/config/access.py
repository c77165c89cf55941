"""Who may read what at the config server: every call proves its caller with HTTP Basic (chassis/identity.py).

- a component reads the documents of its own application (its name, as the config client asks for it) and the
  shared `application` ones, decrypted `{cipher}` values included: they are its own secrets;
- an operator reads every application's documents, and alone may `/encrypt` and `/decrypt` (a decrypt endpoint
  open to a component would hand it every other component's secrets);
- anyone else (Prometheus included, which scrapes the actuator only) gets 403; no credentials, 401.

Health stays public: it is served by the actuator, outside this router.
"""

from __future__ import annotations

from fastapi import Request

from ecommerce.chassis import Caller, Forbidden, MeshSecrets, Unauthorized, caller_from_basic

SHARED = "application"
_CHALLENGE = {"WWW-Authenticate": 'Basic realm="cloud-config-server"'}


def config_caller(request: Request) -> Caller:
    """The proven caller of a config server request; 401 otherwise."""
    secrets: MeshSecrets = request.app.state.mesh_secrets
    caller = caller_from_basic(secrets, request.headers.get("authorization"))
    if caller is None:
        raise Unauthorized("The config server needs a component's or an operator's credentials", headers=_CHALLENGE)
    return caller


def require_operator(request: Request) -> Caller:
    """The operator; 403 for anyone else."""
    caller = config_caller(request)
    if not caller.is_operator:
        raise Forbidden("Only an operator may encrypt or decrypt values")
    return caller


def require_reader(caller: Caller, applications: list[str]) -> None:
    """403 unless `caller` may read every one of `applications`."""
    if caller.is_operator:
        return
    foreign = [
        name for name in applications if name != SHARED and not (caller.kind == "component" and name == caller.name)
    ]
    if caller.kind != "component" or foreign:
        raise Forbidden(f"{caller.name} may not read the configuration of {', '.join(foreign) or 'any application'}")

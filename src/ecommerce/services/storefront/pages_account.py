"""Account pages: sign up, sign in, sign out, profile and addresses."""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from ecommerce.chassis import Forbidden, ServiceError, Unauthorized
from ecommerce.services.storefront import clients
from ecommerce.services.storefront.clients import Peers
from ecommerce.services.storefront.signin import TooManyAttempts, sign_in
from ecommerce.services.storefront.tokens import ROLE_USER
from ecommerce.services.storefront.web import (
    BASE,
    CsrfForm,
    MaybeUser,
    PageUser,
    clear_session,
    field,
    html_errors,
    redirect,
    render,
    safe_next,
    set_session,
)

router = APIRouter(include_in_schema=False)

_USERNAME = re.compile(r"^[A-Za-z0-9._-]{3,64}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@router.get("/signin")
async def signin_page(
    request: Request, principal: MaybeUser, next: Annotated[str, Query(max_length=500)] = ""
) -> Response:
    """The sign-in form."""
    return render(request, "signin.html", principal=principal, next=safe_next(next), error=None, username="")


@router.post("/signin")
async def signin(request: Request, form: CsrfForm) -> Response:
    """Check the password, keep the token in the session cookie, go back where the visitor came from."""
    username, password = field(form, "username"), field(form, "password")
    target = safe_next(field(form, "next", max_length=500))
    try:
        token, _ = await sign_in(request, username, password)
    except (Unauthorized, TooManyAttempts, ServiceError) as exc:
        message = "Wrong username or password." if isinstance(exc, Unauthorized) else exc.msg
        status = int(exc.status)
        response = render(
            request, "signin.html", status=status, next=target, error=message, username=username, principal=None
        )
        if exc.headers:
            response.headers.update(exc.headers)
        return response
    response = redirect(target + ("&" if "?" in target else "?") + "notice=signed-in")
    set_session(request, response, token)
    return response


@router.post("/signout")
async def signout(request: Request, form: CsrfForm) -> Response:
    """Forget the session."""
    del form
    response = redirect(f"{BASE}/?notice=signed-out")
    clear_session(response)
    return response


@router.get("/signup")
async def signup_page(request: Request, principal: MaybeUser) -> Response:
    """The registration form."""
    return render(request, "signup.html", principal=principal, error=None, values={})


@router.post("/signup")
async def signup(request: Request, form: CsrfForm) -> Response:
    """Create a ROLE_USER account, then sign in with it."""
    values = {k: field(form, k) for k in ("firstName", "lastName", "email", "phone", "username")}
    password = field(form, "password")
    error = _signup_error(values, password, field(form, "confirm"))
    if error is None:
        user = {
            "firstName": values["firstName"],
            "lastName": values["lastName"],
            "email": values["email"],
            "phone": values["phone"] or None,
            "credential": {"username": values["username"], "password": password, "roleBasedAuthority": ROLE_USER},
        }
        try:
            await clients.register_user(Peers.of(request), user)
            token, _ = await sign_in(request, values["username"], password)
        except ServiceError as exc:
            error = "That username or email is already taken." if exc.status == 409 else exc.msg
        else:
            response = redirect(f"{BASE}/?notice=registered")
            set_session(request, response, token)
            return response
    return render(request, "signup.html", status=400, error=error, values=values, principal=None)


def _signup_error(values: dict[str, str], password: str, confirm: str) -> str | None:
    if not values["firstName"] or not values["lastName"]:
        return "Please enter your first and last name."
    if not _EMAIL.match(values["email"]):
        return "Please enter a valid email address."
    if not _USERNAME.match(values["username"]):
        return "A username has 3 to 64 letters, digits, dots, dashes or underscores."
    if len(password) < 8:
        return "A password has at least 8 characters."
    if password != confirm:
        return "The two passwords differ."
    return None


@router.get("/account")
@html_errors
async def account(request: Request, principal: PageUser) -> Response:
    """Profile and addresses."""
    peers = Peers.of(request, principal)
    user = await clients.get_user(peers, principal.user_id)
    addresses = await clients.list_addresses(peers, principal.user_id)
    return render(request, "account.html", principal=principal, user=user, addresses=addresses)


@router.post("/account/addresses")
@html_errors
async def add_address(request: Request, principal: PageUser, form: CsrfForm) -> Response:
    """Save a new address."""
    fields = {k: field(form, k) for k in ("fullAddress", "postalCode", "city")}
    if not all(fields.values()):
        raise ServiceError("Fill in the street, postal code and city", status=400)
    await clients.create_address(Peers.of(request, principal), principal.user_id, fields)
    return redirect(f"{BASE}/account?notice=address-added")


@router.post("/account/addresses/{addressId}/delete")
@html_errors
async def remove_address(
    request: Request,
    principal: PageUser,
    form: CsrfForm,
    address_id: Annotated[int, Path(alias="addressId", ge=1, le=2_147_483_647)],
) -> Response:
    """Remove one of the visitor's addresses."""
    del form
    peers = Peers.of(request, principal)
    mine = {a.get("addressId") for a in await clients.list_addresses(peers, principal.user_id)}
    if address_id not in mine:
        raise Forbidden("This is not your address")
    await clients.delete_address(peers, address_id)
    return redirect(f"{BASE}/account?notice=address-removed")


def signin_url(target: str) -> str:
    """The sign-in page that comes back to `target`."""
    return f"{BASE}/signin?next={quote(target, safe='')}"

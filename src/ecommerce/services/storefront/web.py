"""What every page needs: templates, the session and CSRF cookies, the signed cart cookie, page guards."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, ParamSpec
from urllib.parse import quote

import orjson
from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.datastructures import FormData

from ecommerce.chassis import Forbidden, Principal, ServiceError, Unauthorized
from ecommerce.services.storefront.auth import SESSION_COOKIE, keyring, principal_from
from ecommerce.services.storefront.settings import StorefrontSettings

BASE = "/app"
CSRF_COOKIE = "shop_csrf"
CART_COOKIE = "shop_cart"
MAX_CART_LINES = 50
MAX_LINE_QUANTITY = 99

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")
TEMPLATES.env.globals["base"] = BASE

NOTICES = {
    "signed-in": "Welcome back!",
    "signed-out": "You are signed out.",
    "registered": "Your account is ready. Happy shopping!",
    "added": "Added to your cart.",
    "cart-updated": "Cart updated.",
    "address-added": "Address saved.",
    "address-removed": "Address removed.",
    "liked": "Saved to your favourites.",
    "unliked": "Removed from your favourites.",
    "paid": "Payment received. Thank you for your order!",
    "saved": "Saved.",
    "deleted": "Deleted.",
    "advanced": "Shipping status advanced.",
}


class SignInRequired(ServiceError):
    """A page that needs a signed-in visitor: answered with a redirect to the sign-in page."""

    status = 303

    def __init__(self, request: Request) -> None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        super().__init__("Sign in first", headers={"Location": f"{BASE}/signin?next={quote(target, safe='')}"})


def settings_of(request: Request) -> StorefrontSettings:
    """The storefront settings."""
    settings: StorefrontSettings = request.app.state.settings
    return settings


async def page_principal(request: Request) -> Principal | None:
    """The signed-in visitor of a page, None when anonymous or the session has expired or was revoked."""
    try:
        principal = await principal_from(request, allow_cookie=True)
    except Unauthorized:
        principal = None
    request.state.visitor = principal  # what `render` shows in the header of any page of this request
    return principal


async def _page_user(request: Request) -> Principal:
    principal = await page_principal(request)
    if principal is None:
        raise SignInRequired(request)
    return principal


async def _page_admin(request: Request) -> Principal:
    principal = await _page_user(request)
    if not principal.is_admin:
        raise Forbidden("This page is for administrators")
    return principal


async def _maybe_user(request: Request) -> Principal | None:
    return await page_principal(request)


PageUser = Annotated[Principal, Depends(_page_user)]
PageAdmin = Annotated[Principal, Depends(_page_admin)]
MaybeUser = Annotated[Principal | None, Depends(_maybe_user)]


# --- CSRF ----------------------------------------------------------------------------------------------------


def _csrf_for(request: Request, seed: str) -> str:
    return hmac.new(keyring(request).secret("csrf"), seed.encode(), hashlib.sha256).hexdigest()


async def _csrf_form(request: Request) -> FormData:
    form = await request.form()
    seed = request.cookies.get(CSRF_COOKIE, "")
    sent = form.get("csrf_token")
    if not seed or not isinstance(sent, str) or not hmac.compare_digest(sent, _csrf_for(request, seed)):
        raise Forbidden("The form has expired or did not come from this shop; please go back and try again")
    return form


CsrfForm = Annotated[FormData, Depends(_csrf_form)]


def field(form: FormData, name: str, *, max_length: int = 255) -> str:
    """A trimmed text field of a form ('' when absent)."""
    value = form.get(name)
    return value.strip()[:max_length] if isinstance(value, str) else ""


def int_field(form: FormData, name: str, default: int | None = None) -> int | None:
    """An integer field of a form, `default` when absent or not a number."""
    try:
        return int(field(form, name, max_length=12))
    except ValueError:
        return default


def safe_next(target: str | None) -> str:
    """A local redirect target (never another site)."""
    if target and target.startswith(BASE + "/") and not target.startswith("//") and "\\" not in target:
        return target
    return f"{BASE}/"


# --- rendering -----------------------------------------------------------------------------------------------


def render(request: Request, name: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    """Render a page with the visitor, their cart size, a CSRF token and a notice."""
    seed = request.cookies.get(CSRF_COOKIE)
    new_seed = seed is None
    if seed is None:
        seed = secrets.token_urlsafe(24)
    principal = context.pop("principal", None) or getattr(request.state, "visitor", None)
    context.update(
        principal=principal,
        csrf_token=_csrf_for(request, seed),
        cart_count=sum(read_cart(request).values()),
        notice=NOTICES.get(request.query_params.get("notice", "")),
        path=request.url.path,
    )
    response = TEMPLATES.TemplateResponse(request, name, context, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    if new_seed:
        set_cookie(request, response, CSRF_COOKIE, seed, max_age=None)
    return response


def redirect(url: str) -> RedirectResponse:
    """303 See Other, the answer to a form post."""
    return RedirectResponse(url, status_code=303)


def set_cookie(request: Request, response: Response, name: str, value: str, *, max_age: int | None) -> None:
    """An HttpOnly, SameSite=Lax cookie for the shop's path (Secure unless turned off for local http)."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=BASE,
        httponly=True,
        samesite="lax",
        secure=settings_of(request).secure_cookies,
    )


def set_session(request: Request, response: Response, token: str) -> None:
    """Keep the token in the session cookie for as long as it lives."""
    set_cookie(request, response, SESSION_COOKIE, token, max_age=settings_of(request).jwt_ttl_seconds)


def clear_session(response: Response) -> None:
    """Forget the token."""
    response.delete_cookie(SESSION_COOKIE, path=BASE)


P = ParamSpec("P")


def html_errors(handler: Callable[P, Awaitable[Response]]) -> Callable[P, Awaitable[Response]]:
    """Show domain errors (a peer down, a missing product, a forbidden page) as an HTML page."""

    @functools.wraps(handler)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> Response:
        try:
            return await handler(*args, **kwargs)
        except SignInRequired:
            raise
        except ServiceError as exc:
            request = next(a for a in [*args, *kwargs.values()] if isinstance(a, Request))
            return render(request, "error.html", status=int(exc.status), message=exc.msg, status_code=int(exc.status))

    return wrapper


# --- the cart: a signed cookie {productId: quantity} ---------------------------------------------------------


def read_cart(request: Request) -> dict[int, int]:
    """The visitor's cart (empty when missing or tampered with)."""
    raw = request.cookies.get(CART_COOKIE, "")
    payload, _, signature = raw.partition(".")
    if not payload or not hmac.compare_digest(signature, _cart_signature(request, payload)):
        return {}
    try:
        data = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        cart = {int(k): int(v) for k, v in data.items()}
    except (ValueError, AttributeError, orjson.JSONDecodeError):
        return {}
    return {k: min(v, MAX_LINE_QUANTITY) for k, v in cart.items() if k > 0 and v > 0}


def write_cart(request: Request, response: Response, cart: dict[int, int]) -> None:
    """Store the cart in its signed cookie (30 days)."""
    lines = {str(k): min(v, MAX_LINE_QUANTITY) for k, v in cart.items() if v > 0}
    if len(lines) > MAX_CART_LINES:
        raise ServiceError(f"A cart holds at most {MAX_CART_LINES} different products", status=400)
    if not lines:
        response.delete_cookie(CART_COOKIE, path=BASE)
        return
    payload = base64.urlsafe_b64encode(orjson.dumps(lines)).rstrip(b"=").decode()
    value = f"{payload}.{_cart_signature(request, payload)}"
    set_cookie(request, response, CART_COOKIE, value, max_age=30 * 86_400)


def _cart_signature(request: Request, payload: str) -> str:
    return hmac.new(keyring(request).secret("cart"), payload.encode(), hashlib.sha256).hexdigest()[:32]

"""Shoppers for Locust: browse, search, open a product, sign in, favourites, cart, checkout, pay, order history.

Run by `ecommerce loadgen` (which starts `python -m locust -f` on this file); never imported by the shop itself.
Catalog reads go through the gateway, as an API client's do; everything a signed-in shopper does goes through
proxy-client's /app/api, as the pages' script does. The weights make browsing dominate, as in a shop's real
traffic: of 100 actions about 80 read the catalog, the rest sign in, like, fill a cart, buy or read their orders.
A signed-in action is two to four requests, so browsing is about two thirds of the requests.

Each action is a Locust task; `--rate` actions per second are spread over `--users` shoppers
(constant_throughput per shopper), so the offered load does not depend on how fast the shop answers until a
shopper's own action takes longer than its share of a second. An action may be several requests (a buy is a cart
line, the checkout and the payment), so requests per second run above the rate.

The cart: through proxy-client's cart API (/app/api/cart, the signed cart cookie the session keeps) when it answers,
else POST /app/api/checkout with the items and the payment moved on with PATCH /app/api/payments/{id}.

The smoke gate (`--min-requests N`): the run fails when fewer than N requests were made; Locust itself fails it
when any request failed or an action raised (exit code 1). An answer the shop gives a shopper on purpose is no
failure: a product sold out (409 at checkout) is counted under its own name.
"""

from __future__ import annotations

import itertools
import logging
import random
import time
import uuid
from typing import Any
from urllib.parse import quote

from locust import HttpUser, constant_throughput, events, task
from locust.env import Environment

log = logging.getLogger("loadgen")

# The dev profile's demo customers (README "Demo accounts"); qa and prod have none: pass --accounts there.
DEMO_ACCOUNTS = "selimhorri:selimhorri-demo,amineladjimi:amineladjimi-demo,omarderouiche:omarderouiche-demo"
SEARCH_WORDS = ("asus", "hp", "armani", "gta", "laptop", "game", "shirt", "phone")
PAGE_SIZE = 12
TOKEN_REFRESH_SECONDS = 1800.0  # sign in again well before the storefront's token (1 h by default) expires


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    group = parser.add_argument_group("shop", "The shop's load generator (ecommerce.loadgen)")
    group.add_argument(
        "--gateway",
        default="http://127.0.0.1:8080",
        env_var="LOADGEN_GATEWAY",
        help="api-gateway base URL, for catalog reads (-H/--host is proxy-client's, for /app/api)",
    )
    group.add_argument("--rate", type=float, default=5.0, env_var="LOADGEN_RATE", help="shopper actions per second")
    group.add_argument(
        "--accounts",
        default=DEMO_ACCOUNTS,
        env_var="LOADGEN_ACCOUNTS",
        help="user:password,... shoppers sign in with (empty: anonymous browsing only)",
    )
    group.add_argument(
        "--min-requests", type=int, default=0, env_var="LOADGEN_MIN_REQUESTS", help="fail with fewer requests"
    )


@events.init.add_listener
def _configure(environment: Environment, **_: Any) -> None:
    options = environment.parsed_options
    if options is None:  # run as a library (tests of the shoppers): the class defaults stand
        return
    users = max(int(options.num_users or 1), 1)
    Shopper.wait_time = constant_throughput(max(float(options.rate), 0.001) / users)
    Shopper.gateway = options.gateway.rstrip("/")
    Shopper.accounts = itertools.cycle(_parse_accounts(options.accounts) or [None])


@events.quitting.add_listener
def _gate(environment: Environment, **_: Any) -> None:
    """The smoke gate: enough requests, none failed (Locust turns any failure into exit code 1 itself)."""
    options = environment.parsed_options
    total = environment.stats.total
    minimum = int(getattr(options, "min_requests", 0) or 0)
    crashed = len(environment.runner.exceptions) if environment.runner is not None else 0
    verdict = f"{total.num_requests} requests, {total.num_failures} failed"
    if total.num_requests < minimum:
        environment.process_exit_code = 1
        log.error("smoke gate FAILED: %s; at least %d requests were required", verdict, minimum)
    elif crashed:  # Locust exits 1 for these too
        log.error("smoke gate FAILED: %s; %d shopper action(s) raised an error", verdict, crashed)
    elif total.num_failures:
        log.error("smoke gate FAILED: %s", verdict)
    else:
        log.info("smoke gate passed: %s", verdict)


def _parse_accounts(text: str) -> list[tuple[str, str]]:
    pairs = [item.split(":", 1) for item in text.split(",") if ":" in item]
    return [(user.strip(), password) for user, password in pairs if user.strip()]


class Shopper(HttpUser):
    """One shopper: anonymous browsing most of the time, signed in for what needs an account."""

    wait_time = constant_throughput(1.0)
    gateway = "http://127.0.0.1:8080"
    accounts: itertools.cycle[tuple[str, str] | None] = itertools.cycle([None])

    def on_start(self) -> None:
        self.account = next(self.accounts)
        self.token: str | None = None
        self.signed_in_at = 0.0
        self.products: list[dict[str, Any]] = []
        self.categories = 0
        self.pages = 1
        self.cart_api: bool | None = None

    # --- browsing: anonymous, through the gateway -------------------------------------------------------------

    @task(40)
    def browse_catalog(self) -> None:
        page = random.randrange(self.pages)
        with self.client.get(
            f"{self.gateway}/product-service/api/products",
            params={"page": page, "size": PAGE_SIZE},
            name="browse catalog",
            catch_response=True,
        ) as answer:
            rows = _collection(answer)
            if rows is None:
                answer.failure(f"no collection in {answer.text[:200]!r}")
                return
            if rows:
                self.products = rows
                self.pages = max(self.pages, page + 2) if len(rows) == PAGE_SIZE else page + 1
            elif page:
                self.pages = page  # past the last page: the catalog is shorter than thought

    @task(8)
    def browse_categories(self) -> None:
        self.client.get(f"{self.gateway}/product-service/api/categories", name="browse categories")

    @task(32)
    def open_product(self) -> None:
        product = self._some_product()
        if product is not None:
            self.client.get(f"{self.gateway}/product-service/api/products/{product['productId']}", name="product")

    @task(14)
    def search(self) -> None:
        word = random.choice(SEARCH_WORDS)
        self.client.get("/app/api/products", params={"q": word, "size": PAGE_SIZE}, name="search")

    @task(10)
    def product_page(self) -> None:
        product = self._some_product()
        if product is not None:
            self.client.get(f"/app/api/products/{product['productId']}", name="product (storefront)")

    # --- signed in: through proxy-client's /app/api --------------------------------------------------------------

    @task(2)
    def sign_in(self) -> None:
        if self.account is not None:
            self._sign_in()

    @task(5)
    def favourites(self) -> None:
        """Like a product, look at the list, change one's mind (so a long run does not grow the list forever)."""
        product = self._some_product()
        if product is None or not self._signed_in():
            return
        liked = self._json(
            self.client.post(
                "/app/api/favourites",
                json={"productId": product["productId"]},
                headers=self._auth(),
                name="favourite: like",
            )
        )
        self.client.get("/app/api/favourites", headers=self._auth(), name="favourites")
        if liked and "likeDate" in liked:
            path = f"/app/api/favourites/{liked['userId']}/{liked['productId']}/{quote(liked['likeDate'], safe='')}"
            self.client.delete(path, headers=self._auth(), name="favourite: unlike")

    @task(4)
    def cart(self) -> None:
        """Put a product in the cart and look at it (the cart API), or read one's carts (without it)."""
        if not self._signed_in():
            return
        if not self._has_cart_api():
            self.client.get("/app/api/carts", headers=self._auth(), name="carts")
            return
        product = self._some_product()
        if product is not None:
            line = {"productId": product["productId"], "quantity": 1}
            self.client.post("/app/api/cart/lines", json=line, headers=self._auth(), name="cart: add")
        self.client.get("/app/api/cart", headers=self._auth(), name="cart")

    @task(4)
    def buy(self) -> None:
        """Check out one or two units of a product in stock, then pay: through the cart API when the storefront
        has it (the cart is the cookie the session keeps), else POST /app/api/checkout with the items."""
        in_stock = [p for p in self.products if (p.get("quantity") or 0) > 0]
        if not in_stock or not self._signed_in():
            return
        product = random.choice(in_stock)
        line = {"productId": product["productId"], "quantity": random.choice((1, 1, 1, 2))}
        headers = {**self._auth(), "Idempotency-Key": uuid.uuid4().hex}
        if self._has_cart_api():
            self.client.post("/app/api/cart/lines", json=line, headers=self._auth(), name="cart: add")
            order = self._checkout("/app/api/cart/checkout", None, headers)
            if order and order.get("orderId"):
                self.client.post(f"/app/api/orders/{order['orderId']}/pay", headers=self._auth(), name="pay")
            return
        order = self._checkout("/app/api/checkout", {"items": [line]}, headers)
        if order and order.get("paymentId"):
            for status in ("IN_PROGRESS", "COMPLETED"):
                path = f"/app/api/payments/{order['paymentId']}"
                self.client.patch(path, json={"paymentStatus": status}, headers=self._auth(), name="pay")

    @task(8)
    def order_history(self) -> None:
        if not self._signed_in():
            return
        orders = self._json(self.client.get("/app/api/orders", headers=self._auth(), name="order history")) or {}
        rows = orders.get("collection") or []
        if rows:
            self.client.get(f"/app/api/orders/{rows[0]['orderId']}", headers=self._auth(), name="order")

    # --- helpers --------------------------------------------------------------------------------------------------

    def _some_product(self) -> dict[str, Any] | None:
        if not self.products:
            self.browse_catalog()
        return random.choice(self.products) if self.products else None

    def _checkout(self, path: str, body: dict[str, Any] | None, headers: dict[str, str]) -> dict[str, Any] | None:
        with self.client.post(path, json=body, headers=headers, name="checkout", catch_response=True) as answer:
            if answer.status_code != 409:
                return _object(answer)
            # Sold out since the listing: the shop's answer, not a failure; the cart starts again empty.
            answer.success()
            answer.request_meta["name"] = "checkout (sold out)"
        if self.cart_api:
            self.client.delete("/app/api/cart", headers=self._auth(), name="cart: empty")
        return None

    def _has_cart_api(self) -> bool:
        """Whether proxy-client has /app/api/cart (asked once per shopper; a 404 is the answer, not a failure)."""
        if self.cart_api is None:
            with self.client.get("/app/api/cart", headers=self._auth(), name="cart", catch_response=True) as answer:
                self.cart_api = answer.status_code != 404
                if not self.cart_api:
                    answer.success()
        return self.cart_api

    def _signed_in(self) -> bool:
        if self.account is None:
            return False
        if self.token is None or time.monotonic() - self.signed_in_at > TOKEN_REFRESH_SECONDS:
            self._sign_in()
        return self.token is not None

    def _sign_in(self) -> None:
        assert self.account is not None
        username, password = self.account
        answer = self.client.post(
            "/app/api/authenticate", json={"username": username, "password": password}, name="sign in"
        )
        body = self._json(answer) or {}
        self.token = body.get("jwtToken")
        self.signed_in_at = time.monotonic()

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    @staticmethod
    def _json(answer: Any) -> dict[str, Any] | None:
        return _object(answer)


def _object(answer: Any) -> dict[str, Any] | None:
    # Not `answer.ok`: on a refused connection Locust's response re-raises the error there (status_code is 0).
    if not 200 <= (answer.status_code or 0) < 300:
        return None
    try:
        body = answer.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _collection(answer: Any) -> list[dict[str, Any]] | None:
    body = _object(answer)
    rows = body.get("collection") if body else None
    return [row for row in rows if isinstance(row, dict) and "productId" in row] if isinstance(rows, list) else None

"""The shop in a real headless Chromium (Debian's, driven by Playwright): a shopper's whole purchase, an admin adding
a product, a signed-out visitor kept out of the account pages, and bad addresses answered with pages. Screenshots go
to tests/artifacts/; those of the tour (docs/tour.md) to docs/images/tour-*.png, so the tour shows the pages as they
are.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from storefront_support import ADMIN, ARTIFACTS, Shop

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[3]
TOUR = ROOT / "docs" / "images"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-extensions",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]


def chromium_path() -> str | None:
    for candidate in (ROOT / ".tools" / "bin" / "chromium", Path("/usr/bin/chromium")):
        if candidate.exists():
            return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else str(candidate)
    return shutil.which("chromium")


@pytest.fixture(scope="module")
def browser(shop: Shop) -> Iterator[Any]:
    executable = chromium_path()
    shop.config.require(executable is not None, "Debian's chromium is missing: run tools/install-chromium.sh")
    sync_api = pytest.importorskip("playwright.sync_api")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Any, shop: Shop) -> Iterator[Any]:
    context = browser.new_context(base_url=shop.url, viewport={"width": 1200, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"storefront-{name}.png"), full_page=True)


def tour(page: Any, name: str) -> None:
    """A picture of the tour: the visible part of the page at 1200x900, small enough for the repository."""
    path = TOUR / f"tour-{name}.png"
    page.screenshot(path=str(path), full_page=False, animations="disabled", caret="hide")
    assert path.stat().st_size < 400_000, f"{path.name} is {path.stat().st_size} bytes"


def test_a_shopper_registers_likes_fills_the_cart_checks_out_pays_and_finds_the_order(page: Any) -> None:
    username = f"ann{uuid.uuid4().hex[:6]}"
    page.goto("/app/")
    shot(page, "catalog")
    page.click("text=Sign up")
    page.fill("#firstName", "Ann")
    page.fill("#lastName", "Buyer")
    page.fill("#email", f"{username}@example.com")
    page.fill("#username", username)
    page.fill("#password", "correct-horse")
    page.fill("#confirm", "correct-horse")
    shot(page, "signup")
    page.click("[data-testid=signup]")
    page.wait_for_url("**/app/?notice=registered")
    assert page.locator(f"nav >> text={username}").is_visible()

    page.goto("/app/signin")
    page.fill("#username", username)
    page.fill("#password", "correct-horse")
    page.click("[data-testid=signin]")
    page.wait_for_url("**notice=signed-in")
    page.goto("/app/")
    assert page.locator("[data-testid=product-card]").count() == 12  # a page of the demo catalog
    tour(page, "catalog")

    page.fill("#search-q", "asus")
    page.press("#search-q", "Enter")
    page.wait_for_url("**q=asus**")
    cards = page.locator("[data-testid=product-card]")
    assert cards.count() == 1 and "asus" in cards.first.inner_text()
    heart = page.locator("[data-testid=heart-1]")
    heart.click()
    # A locator wait, not wait_for_function: the pages' Content-Security-Policy forbids evaluating strings.
    page.locator("[data-testid=heart-1][aria-pressed=true]").wait_for()
    shot(page, "search")
    page.click("[data-testid=add-1]")
    page.wait_for_url("**notice=added**")

    page.goto("/app/products/2")
    assert "In stock" in page.locator("[data-testid=stock]").inner_text()
    page.fill("#qty", "2")
    page.click("[data-testid=add-to-cart]")
    page.wait_for_url("**/app/products/2?notice=added")
    shot(page, "product")
    tour(page, "product")

    page.goto("/app/favourites")
    assert "asus" in page.locator("main").inner_text()
    shot(page, "favourites")

    page.goto("/app/cart")
    assert page.locator("[data-testid=cart-line]").count() == 2
    shot(page, "cart")
    tour(page, "cart")
    page.click("[data-testid=checkout]")
    page.wait_for_url("**/app/checkout")
    page.check("[data-testid=new-address]")
    page.fill("#fullAddress", "12 Rue de Carthage")
    page.fill("#postalCode", "2016")
    page.fill("#city", "Carthage")
    shot(page, "checkout")
    tour(page, "checkout")
    page.click("[data-testid=place-order]")
    page.wait_for_url("**/pay**")
    shot(page, "pay")
    page.fill("#holder", "Ann Buyer")
    page.fill("#card", "4242424242424242")
    page.click("[data-testid=pay]")
    page.wait_for_url("**notice=paid")
    assert page.locator("[data-testid=confirmation]").is_visible()
    shot(page, "confirmation")

    page.goto("/app/orders")
    orders = page.locator("article.order")
    assert orders.count() == 1
    text = orders.first.inner_text().lower()
    assert "completed" in text and "asus" in text and "hp" in text
    shot(page, "orders")
    tour(page, "orders")
    page.goto("/app/account")
    assert "12 Rue de Carthage" in page.locator("main").inner_text()
    shot(page, "account")


def paid_order(shop: Shop) -> int:
    """A checked-out and paid order of the admin's, placed through /app/api."""
    headers = {"Authorization": f"Bearer {shop.token(ADMIN)}"}
    with httpx.Client(base_url=f"{shop.url}/app/api", headers=headers, timeout=20) as api:
        placed = api.post(
            "/checkout",
            json={"items": [{"productId": 4, "quantity": 1}]},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        assert placed.status_code == 201, placed.text
        order = placed.json()
        for status in ("IN_PROGRESS", "COMPLETED"):
            moved = api.patch(f"/payments/{order['paymentId']}", json={"paymentStatus": status})
            assert moved.status_code == 200, moved.text
    return int(order["orderId"])


def test_an_admin_adds_a_product_and_ships_an_order(page: Any, shop: Shop) -> None:
    order_id = paid_order(shop)
    title = f"Desk lamp {uuid.uuid4().hex[:5]}"
    page.goto("/app/signin?next=%2Fapp%2Fadmin%2Fproducts")
    page.fill("#username", ADMIN[0])
    page.fill("#password", ADMIN[1])
    page.click("[data-testid=signin]")
    page.wait_for_url("**/app/admin/products**")
    page.fill("#productTitle", title)
    page.fill("#sku", f"lamp-{uuid.uuid4().hex[:8]}")
    page.fill("#priceUnit", "24.90")
    page.fill("#quantity", "4")
    page.select_option("#categoryId", "1")
    page.click("[data-testid=create-product]")
    page.wait_for_url("**notice=saved")
    shot(page, "admin-products")
    tour(page, "admin")
    page.goto("/app/admin/orders")
    shot(page, "admin-orders")
    card = page.locator(f"[data-testid=order-{order_id}]")
    assert "paid" in card.inner_text().lower()
    card.locator("button:has-text('Mark shipped')").click()
    page.wait_for_url("**notice=advanced")
    assert "shipping shipped" in page.locator(f"[data-testid=order-{order_id}]").inner_text().lower()

    page.goto(f"/app/?q={title.replace(' ', '+')}")
    card = page.locator("[data-testid=product-card]")
    assert card.count() == 1
    assert title in card.first.inner_text() and "Only 4 left" in card.first.inner_text()


@pytest.mark.parametrize(
    "path", ["/app/account", "/app/orders", "/app/favourites", "/app/checkout", "/app/admin/products"]
)
def test_a_signed_out_visitor_cannot_reach_account_pages(page: Any, path: str) -> None:
    page.goto(path)
    assert "/app/signin?next=" in page.url
    assert page.locator("h1").inner_text() == "Sign in"
    if path == "/app/account":
        shot(page, "signin")


def test_page_weight(page: Any) -> None:
    answer = page.goto("/app/")
    assert answer is not None and answer.ok
    assert len(answer.body()) < 100_000


@pytest.mark.parametrize(
    ("path", "status", "headline"),
    [
        ("/app/?page=abc", "400", "That request did not look right"),
        ("/app/products/abc", "404", "We could not find that page"),
        ("/app/?q=" + "y" * 150, "400", "That request did not look right"),
        ("/app/no-such-page", "404", "We could not find that page"),
    ],
)
def test_a_bad_address_shows_a_page_not_json(page: Any, path: str, status: str, headline: str) -> None:
    answer = page.goto(path)
    assert answer is not None and str(answer.status) == status
    error = page.locator("[data-testid=error-page]")
    assert error.get_attribute("data-status") == status
    assert page.locator("h1").inner_text() == headline
    page.click("text=Back to the catalog")
    page.wait_for_url("**/app/")
    assert page.locator("[data-testid=product-card]").count() > 0


def test_the_search_box_holds_no_more_than_the_server_takes(page: Any) -> None:
    page.goto("/app/")
    page.fill("#search-q", "")
    page.locator("#search-q").press_sequentially("z" * 120)
    assert len(page.locator("#search-q").input_value()) == 100
    page.press("#search-q", "Enter")
    page.wait_for_url("**q=zzz**")
    assert page.locator("[data-testid=error-page]").count() == 0  # a search of 100 characters is a search

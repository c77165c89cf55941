"""Static files (CSS, JS, the logo), the demo catalog's pictures and drawn placeholders: nothing from the internet."""

from __future__ import annotations

import hashlib
import re
from html import escape
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi import Path as PathParam
from fastapi.responses import Response

from ecommerce.chassis import NotFound

router = APIRouter(include_in_schema=False)

STATIC_DIR = Path(__file__).parent / "static"
_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml"}
_FILES = {p.name: (p.read_bytes(), _TYPES[p.suffix]) for p in STATIC_DIR.iterdir() if p.suffix in _TYPES}
CATALOG_DIR = STATIC_DIR / "catalog"
# The demo catalog's pictures (Fluent Emoji Flat, MIT: static/catalog/NOTICE), by name without ".svg".
_CATALOG = {p.stem: p.read_bytes() for p in CATALOG_DIR.glob("*.svg")}
_LABEL = re.compile(r"[^\w ]+", re.UNICODE)


@router.get("/static/{name}")
async def static_file(name: Annotated[str, PathParam(max_length=64)]) -> Response:
    """One of the shop's static files, cached for a day."""
    found = _FILES.get(name)
    if found is None:
        raise NotFound(f"No static file {name}")
    return Response(found[0], media_type=found[1], headers={"Cache-Control": "public, max-age=86400"})


@router.get("/images/catalog/{name}.svg")
async def catalog_picture(name: Annotated[str, PathParam(max_length=64)]) -> Response:
    """A picture of the demo catalog (products name it in their imageUrl)."""
    found = _CATALOG.get(name)
    if found is None:
        raise NotFound(f"No picture {name}")
    return Response(found, media_type="image/svg+xml", headers={"Cache-Control": "public, max-age=86400"})


@router.get("/images/products/{productId}.svg")
async def product_image(
    product_id: Annotated[int, PathParam(alias="productId", ge=1, le=2_147_483_647)],
    label: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    """A product picture drawn from its id (colours, shapes) and title (initials)."""
    return Response(
        draw_product(product_id, label),
        media_type="image/svg+xml",
        headers={"Cache-Control": "public, max-age=86400"},
    )


def draw_product(product_id: int, label: str) -> str:
    """An SVG with a colour scheme and shapes picked by the product id, and the title's initials."""
    digest = hashlib.sha256(str(product_id).encode()).digest()
    hue = digest[0] * 360 // 256
    accent = (hue + 40 + digest[1] % 80) % 360
    words = _LABEL.sub(" ", label).split()
    initials = escape("".join(w[0] for w in words[:2]).upper() or "#")
    circles = "".join(
        f'<circle cx="{20 + digest[2 + i] % 160}" cy="{20 + digest[6 + i] % 110}" r="{12 + digest[10 + i] % 30}" '
        f'fill="hsl({(accent + i * 30) % 360} 70% 70%)" opacity="0.55"/>'
        for i in range(4)
    )
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 200 150" role="img">'
        f'<rect width="200" height="150" fill="hsl({hue} 55% 42%)"/>{circles}'
        f'<text x="100" y="92" font-family="sans-serif" font-size="44" font-weight="700" text-anchor="middle" '
        f'fill="#fff">{initials}</text></svg>'
    )

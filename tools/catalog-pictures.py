#!/usr/bin/env python3
"""Draw the demo catalog's pictures from the Fluent Emoji Flat icon set (MIT, Microsoft Corporation).

Installs the pinned npm package @iconify-json/fluent-emoji-flat into a temporary folder, takes the icon each demo
product names (products/demo_catalog.py) and writes it as a 200x150 picture on a soft background to
src/ecommerce/services/storefront/static/catalog/, beside the set's licence (NOTICE). The pictures are committed:
the shop serves them itself and needs neither npm nor the network. Run again after changing the demo catalog:
    .venv/bin/python tools/catalog-pictures.py
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from ecommerce.services.products.demo_catalog import PRODUCTS  # noqa: E402

PACKAGE = "@iconify-json/fluent-emoji-flat@1.2.6"
OUT = ROOT / "src" / "ecommerce" / "services" / "storefront" / "static" / "catalog"


def picture(body: str, name: str) -> str:
    """The icon centred on a pastel card whose hue comes from the icon's name (stable across runs)."""
    hue = hashlib.sha256(name.encode()).digest()[0] * 360 // 256
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 200 150" role="img">'
        f'<rect width="200" height="150" fill="hsl({hue}, 60%, 94%)"/>'
        f'<ellipse cx="100" cy="128" rx="52" ry="7" fill="hsl({hue}, 30%, 84%)"/>'
        f'<svg x="52" y="19" width="96" height="96" viewBox="0 0 32 32">{body}</svg></svg>\n'
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run(["npm", "install", "--no-save", "--prefix", folder, PACKAGE], check=True)
        icons = json.loads((Path(folder) / "node_modules/@iconify-json/fluent-emoji-flat/icons.json").read_text())
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*.svg"):
        old.unlink()
    for product in PRODUCTS:
        (OUT / f"{product.picture}.svg").write_text(picture(icons["icons"][product.picture]["body"], product.picture))
    print(f"{len({p.picture for p in PRODUCTS})} pictures in {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

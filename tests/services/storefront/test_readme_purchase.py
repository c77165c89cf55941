"""The README's purchase with curl (sign in, add to cart, change it, check out, pay, see the order), run as written."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from storefront_support import Shop

pytestmark = pytest.mark.slow

README = Path(__file__).resolve().parents[3] / "README.md"


def walkthrough() -> str:
    """The sh block after the README's purchase-walkthrough marker."""
    found = re.search(r"<!-- purchase-walkthrough[^>]*-->\s*```sh\n(.*?)```", README.read_text(), re.DOTALL)
    assert found, "README.md lost its purchase walk-through"
    return found.group(1)


def test_the_readme_purchase_runs_as_written(shop: Shop) -> None:
    shop.need("product-service", "order-service", "payment-service")
    shop.config.require(bool(shutil.which("curl") and shutil.which("jq")), "curl and jq: tools/install-curl-jq.sh")
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", walkthrough()],
        env={**os.environ, "SHOP": shop.url},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    lines = done.stdout.strip().splitlines()
    assert float(lines[0]) == 199.0 and float(lines[1]) == 199.0 + 2 * 14.5
    assert [json.loads(line) for line in lines[2:4]] == [
        {"productId": 26, "quantity": 1, "subtotal": 199.0},
        {"productId": 46, "quantity": 3, "subtotal": 43.5},
    ]
    assert lines[4] == "COMPLETED"
    order = json.loads(lines[5])
    assert order["orderFee"] == 242.5 and isinstance(order["orderId"], int), order

"""Shared pieces of the storefront's tests: the demo accounts and the running shop."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

PEERS = ("user-service", "product-service", "favourite-service", "order-service", "shipping-service", "payment-service")
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
ADMIN = ("admin", "admin-demo")
USER1 = ("selimhorri", "selimhorri-demo")  # userId 1
USER2 = ("amineladjimi", "amineladjimi-demo")  # userId 2


@dataclass
class Shop:
    """The running shop: the storefront's URL and which peers could not be started."""

    url: str
    services: dict[str, Any]
    missing: dict[str, str] = field(default_factory=dict)
    config: Any = None

    def need(self, *names: str) -> None:
        """Skip (fail in CI) when a peer this test needs is not part of the shop yet."""
        absent = [n for n in names if n in self.missing]
        if absent:
            self.config.require(False, f"peer(s) not available: {', '.join(absent)}: {self.missing[absent[0]][:300]}")

    def token(self, credentials: tuple[str, str]) -> str:
        answer = httpx.post(
            f"{self.url}/app/api/authenticate",
            json={"username": credentials[0], "password": credentials[1]},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        token: str = answer.json()["jwtToken"]
        return token

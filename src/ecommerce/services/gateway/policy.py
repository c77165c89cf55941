"""Edge security: which requests are public, need a signed-in user, need an admin, or are never let through."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ecommerce.services.gateway.config import Access, GatewayConfig, glob_regex


@dataclass(frozen=True, slots=True)
class Rule:
    pattern: re.Pattern[str]
    methods: frozenset[str] | None
    access: Access


class Policy:
    """First matching rule wins; rules are pre-filtered per route so a request tests only its own few."""

    def __init__(self, config: GatewayConfig, default: Access = Access.AUTHENTICATED) -> None:
        self.default = default
        self._by_prefix: dict[str, tuple[Rule, ...]] = {}
        rules = []
        for rule in config.policy:
            first = rule.path.split("/")[1] if rule.path.startswith("/") else "*"
            methods = frozenset(method.upper() for method in rule.methods) if rule.methods else None
            rules.append((first, Rule(glob_regex(rule.path), methods, rule.access)))
        for route in config.routes:
            self._by_prefix[route.prefix] = tuple(
                rule for first, rule in rules if first == route.prefix or "*" in first or first == ""
            )

    def access(self, prefix: str, method: str, path: str) -> Access:
        """The access level a request to `path` (on the route owning `prefix`) needs."""
        for rule in self._by_prefix.get(prefix, ()):
            if (rule.methods is None or method in rule.methods) and rule.pattern.fullmatch(path):
                return rule.access
        return self.default

"""Spring Environments from configuration files: which files, in which order, flattened and resolved.

For application `product-service` and profiles `dev` the property sources are, most specific first:
`product-service-dev.*`, `application-dev.*`, `product-service.*`, `application.*` (yml, yaml, properties, json).
Values are flattened to Spring's keys (`db.pool.size`, `cors.origins[0]`), `${key:default}` placeholders are
resolved against the merged result, and `{cipher}` values are decrypted (or reported as `invalid.<key>`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ecommerce.services.config import crypto

EXTENSIONS = (".yml", ".yaml", ".properties", ".json")
_PLACEHOLDER = re.compile(r"\$\{([^}:]+)(?::([^}]*))?\}")


@dataclass(frozen=True)
class PropertySource:
    name: str
    source: dict[str, Any]


def property_sources(root: Path, applications: list[str], profiles: list[str], *, origin: str) -> list[PropertySource]:
    """The sources for these applications and profiles under `root`, most specific first."""
    names = [*applications, "application"] if "application" not in applications else applications
    candidates: list[str] = []
    for profile in reversed(profiles):
        candidates += [f"{name}-{profile}" for name in names]
    candidates += names
    sources = []
    for stem in candidates:
        for extension in EXTENSIONS:
            path = root / f"{stem}{extension}"
            try:
                found = path.is_file()
            except (OSError, ValueError):  # a name too long for the file system is a file that is not there
                continue
            if found:
                sources.append(PropertySource(f"{origin}{path.name}", flatten(load(path))))
    return sources


def load(path: Path) -> dict[str, Any]:
    """A configuration file as a (possibly nested) mapping."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".properties":
        return _properties(text)
    data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    return data if isinstance(data, dict) else {}


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """Nested mappings and lists to Spring's flat keys."""
    out: dict[str, Any] = {}
    if isinstance(data, dict):
        if not data and prefix:
            out[prefix] = {}
        for key, value in data.items():
            out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            out.update(flatten(value, f"{prefix}[{index}]"))
    else:
        out[prefix] = data
    return out


def unflatten(flat: dict[str, Any]) -> dict[str, Any]:
    """Flat keys back to a nested document (for the .yml and .json views)."""
    root: dict[str, Any] = {}
    for key, value in flat.items():
        node: Any = root
        parts = re.findall(r"[^.\[\]]+|\[\d+\]", key)
        for position, part in enumerate(parts):
            last = position == len(parts) - 1
            following: Any = [] if not last and parts[position + 1].startswith("[") else {}
            if part.startswith("["):
                index = int(part[1:-1])
                while len(node) <= index:
                    node.append(None)
                if last:
                    node[index] = value
                else:
                    if node[index] is None:
                        node[index] = following
                    node = node[index]
            else:
                if last:
                    node[part] = value
                else:
                    node = node.setdefault(part, following)
    return root


def merged(sources: list[PropertySource]) -> dict[str, Any]:
    """One flat map; the first source wins."""
    out: dict[str, Any] = {}
    for source in reversed(sources):
        out.update(source.source)
    return out


def resolve(sources: list[PropertySource], key: str | None) -> list[PropertySource]:
    """Placeholders resolved and ciphers decrypted, in every source."""
    context = merged(sources)
    out = []
    for source in sources:
        values: dict[str, Any] = {}
        for name, value in source.source.items():
            if isinstance(value, str) and value.startswith(crypto.PREFIX):
                try:
                    values[name] = crypto.decrypt(value, key)
                except crypto.CipherError:
                    values[f"invalid.{name}"] = "<n/a>"
                continue
            values[name] = placeholders(value, context)
        out.append(PropertySource(source.name, values))
    return out


def placeholders(value: Any, context: dict[str, Any], depth: int = 0) -> Any:
    """`${key}` and `${key:default}` from `context`; unknown keys without a default stay as written."""
    if not isinstance(value, str) or "${" not in value or depth > 10:
        return value

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in context and not (isinstance(context[name], str) and context[name].startswith(crypto.PREFIX)):
            return str(placeholders(context[name], context, depth + 1))
        return default if default is not None else match.group(0)

    whole = _PLACEHOLDER.fullmatch(value)
    if whole and whole.group(1) in context and not isinstance(context[whole.group(1)], str):
        return context[whole.group(1)]  # keep numbers and booleans typed
    return _PLACEHOLDER.sub(substitute, value)


def to_properties(flat: dict[str, Any]) -> str:
    """A .properties document, keys sorted."""
    lines = []
    for key in sorted(flat):
        value = flat[key]
        text = "true" if value is True else "false" if value is False else "" if value is None else str(value)
        lines.append(f"{key}: {text}")
    return "\n".join(lines) + ("\n" if lines else "")


def to_yaml(flat: dict[str, Any]) -> str:
    """A YAML document, nested."""
    return yaml.safe_dump(unflatten(flat), sort_keys=True, default_flow_style=False)


def _properties(text: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", "!")):
            continue
        match = re.match(r"([^=:\s]+)\s*[=:]?\s*(.*)", line)
        if match:
            out[match.group(1)] = match.group(2)
    return out

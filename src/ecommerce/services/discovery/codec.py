"""Eureka's wire shapes: instance records in JSON (Jackson style) and XML (XStream style).

One neutral form is kept in memory, the JSON one: `{"port": {"$": 8081, "@enabled": "true"}, ...}`. In XML the
`@name` keys become attributes and `$` the element text, so both encodings come from the same dictionary.
Real clients are strict about a few details, which this module guarantees: `<port enabled=..>`,
`<dataCenterInfo class=..>`, integer lease fields and timestamps, and upper-case application names.
"""

from __future__ import annotations

import time
from typing import Any
from xml.etree import ElementTree

import orjson

DEFAULT_DATA_CENTER = {"@class": "com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo", "name": "MyOwn"}
STATUSES = frozenset({"UP", "DOWN", "STARTING", "OUT_OF_SERVICE", "UNKNOWN"})
_STRING_FIELDS = (
    "homePageUrl",
    "statusPageUrl",
    "healthCheckUrl",
    "secureHealthCheckUrl",
    "vipAddress",
    "secureVipAddress",
)


class InvalidInstance(ValueError):
    """The body does not describe an instance."""


def now_ms() -> int:
    """Wall-clock milliseconds, Eureka's timestamp unit."""
    return int(time.time() * 1000)


def parse_body(body: bytes, content_type: str) -> dict[str, Any]:
    """The raw instance record of a register request, sent as JSON (`{"instance": ..}`) or XML (`<instance>`)."""
    if not body.strip():
        raise InvalidInstance("empty body")
    if "xml" in content_type or body.lstrip().startswith(b"<"):
        try:
            root = ElementTree.fromstring(body)
        except ElementTree.ParseError as exc:
            raise InvalidInstance(f"malformed XML: {exc}") from None
        if root.tag != "instance":
            raise InvalidInstance("the XML root must be <instance>")
        record = _from_element(root)
        return record if isinstance(record, dict) else {}
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInstance(f"malformed JSON: {exc}") from None
    if isinstance(data, dict) and isinstance(data.get("instance"), dict):
        instance: dict[str, Any] = data["instance"]
        return instance
    if isinstance(data, dict):
        return data
    raise InvalidInstance("expected a JSON object")


def normalize(raw: dict[str, Any], app: str | None = None) -> dict[str, Any]:
    """A complete, well-typed instance record from whatever a client sent."""
    app_name = str(raw.get("app") or app or "").upper()
    host = _text(raw.get("hostName")) or _text(raw.get("ipAddr"))
    if not app_name or not host:
        raise InvalidInstance("an instance needs app and hostName")
    if app and app.upper() != app_name:
        raise InvalidInstance(f"the body names app {app_name}, the path {app.upper()}")
    port = _port(raw.get("port"), default=80, enabled=True)
    instance_id = _text(raw.get("instanceId")) or f"{host}:{app_name.lower()}:{port['$']}"
    status = _status(raw.get("status"), "UP")
    overridden = _status(raw.get("overriddenstatus", raw.get("overriddenStatus")), "UNKNOWN")
    stamp = now_ms()
    data_center = raw.get("dataCenterInfo")
    if not isinstance(data_center, dict) or not data_center.get("@class"):
        data_center = dict(DEFAULT_DATA_CENTER)
    record: dict[str, Any] = {
        "instanceId": instance_id,
        "hostName": host,
        "app": app_name,
        "ipAddr": _text(raw.get("ipAddr")) or host,
        "status": status,
        "overriddenstatus": overridden,
        "port": port,
        "securePort": _port(raw.get("securePort"), default=443, enabled=False),
        "countryId": _int(raw.get("countryId"), 1),
        "dataCenterInfo": {"@class": str(data_center["@class"]), "name": _text(data_center.get("name")) or "MyOwn"},
        "metadata": _metadata(raw.get("metadata")),
    }
    for key in _STRING_FIELDS:
        record[key] = _text(raw.get(key))
    if not record["vipAddress"]:
        record["vipAddress"] = app_name.lower()
    record["isCoordinatingDiscoveryServer"] = (
        "true" if _text(raw.get("isCoordinatingDiscoveryServer")) == "true" else "false"
    )
    lease_info = raw.get("leaseInfo")
    lease: dict[str, Any] = lease_info if isinstance(lease_info, dict) else {}
    record["leaseInfo"] = {
        "renewalIntervalInSecs": _int(lease.get("renewalIntervalInSecs"), 30),
        "durationInSecs": _int(lease.get("durationInSecs"), 90),
    }
    record["lastUpdatedTimestamp"] = _int(raw.get("lastUpdatedTimestamp"), stamp) or stamp
    record["lastDirtyTimestamp"] = _int(raw.get("lastDirtyTimestamp"), stamp) or stamp
    return record


def applications_document(
    apps: dict[str, list[dict[str, Any]]], *, hashcode: str, version: int, root: str = "applications"
) -> dict[str, Any]:
    """`{"applications": {"versions__delta", "apps__hashcode", "application": [...]}}`, apps sorted by name."""
    return {
        root: {
            "versions__delta": str(version),
            "apps__hashcode": hashcode,
            "application": [{"name": name, "instance": apps[name]} for name in sorted(apps)],
        }
    }


def render(document: dict[str, Any], *, as_json: bool) -> tuple[bytes, str]:
    """Encode a one-key document as JSON or XML; returns the body and its media type."""
    if as_json:
        return orjson.dumps(_json_ready(document)), "application/json"
    [(tag, value)] = document.items()
    element = _to_element(tag, value)
    return ElementTree.tostring(element, encoding="utf-8", xml_declaration=False), "application/xml"


def _json_ready(value: Any) -> Any:
    # Jackson's Eureka codec writes the two instance timestamps as strings; lease fields stay numbers.
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key in ("lastUpdatedTimestamp", "lastDirtyTimestamp"):
                out[key] = str(item)
            else:
                out[key] = _json_ready(item)
        return out
    if isinstance(value, list):
        return [_json_ready(item) for item in value]
    return value


def _to_element(tag: str, value: Any) -> ElementTree.Element:
    element = ElementTree.Element(tag)
    if isinstance(value, dict):
        for key, item in value.items():
            if key.startswith("@"):
                element.set(key[1:], _scalar(item))
            elif key == "$":
                element.text = _scalar(item)
            elif isinstance(item, list):
                for entry in item:
                    element.append(_to_element(key, entry))
            else:
                element.append(_to_element(key, item))
    elif value is not None:
        element.text = _scalar(value)
    return element


def _from_element(element: ElementTree.Element) -> Any:
    children = list(element)
    if not children and not element.attrib:
        return element.text or ""
    out: dict[str, Any] = {f"@{key}": value for key, value in element.attrib.items()}
    if not children:
        out["$"] = element.text or ""
        return out
    for child in children:
        value = _from_element(child)
        if child.tag in out:
            existing = out[child.tag]
            out[child.tag] = [*existing, value] if isinstance(existing, list) else [existing, value]
        else:
            out[child.tag] = value
    return out


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return str(value.get("$", ""))
    return str(value)


def _int(value: Any, default: int) -> int:
    if isinstance(value, dict):
        value = value.get("$")
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _status(value: Any, default: str) -> str:
    text = _text(value).upper()
    return text if text in STATUSES else default


def _port(value: Any, *, default: int, enabled: bool) -> dict[str, Any]:
    if isinstance(value, dict):
        number = _int(value.get("$"), default)
        flag = value.get("@enabled", enabled)
        enabled = flag if isinstance(flag, bool) else str(flag).lower() == "true"
    else:
        number = _int(value, default)
    return {"$": number, "@enabled": "true" if enabled else "false"}


def _metadata(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {str(key): _text(item) for key, item in value.items() if not str(key).startswith("@")}

"""The contract of chassis/uvicorn_adapter.py, the one adapter to uvicorn's internals, against the installed uvicorn.

An upgrade that renames, re-signs or drops anything the adapter overrides, calls, reads or stands in for fails here,
naming what changed, before the gateway misbehaves; pyproject.toml pins uvicorn to the range this passed on.
"""

from __future__ import annotations

import asyncio
import inspect
import re
import tomllib
from importlib.metadata import version
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from ecommerce.chassis import uvicorn_adapter
from ecommerce.chassis.uvicorn_adapter import UVICORN_CONTRACT, NativeLaneProtocol

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "ecommerce"


async def _app(scope: Any, receive: Any, send: Any) -> None:
    raise AssertionError("not called")


def _connected(cls: type[HttpToolsProtocol]) -> HttpToolsProtocol:
    """A protocol as uvicorn makes one for a new connection (on a stand-in transport)."""
    config = Config(_app, log_config=None, http=cls)
    loop = asyncio.new_event_loop()
    try:
        made = cls(config=config, server_state=ServerState(), app_state={}, _loop=loop)
        made.connection_made(mock.Mock(**{"get_extra_info.return_value": None, "is_closing.return_value": False}))
    finally:
        loop.close()
    return made


@pytest.mark.parametrize("name", sorted(UVICORN_CONTRACT["methods"]))
def test_every_method_the_adapter_overrides_or_calls_keeps_its_signature(name: str) -> None:
    method = getattr(HttpToolsProtocol, name, None)
    assert method is not None, f"uvicorn's HttpToolsProtocol has no {name} any more"
    assert str(inspect.signature(method)) == UVICORN_CONTRACT["methods"][name]


def test_every_attribute_the_adapter_reads_or_sets_is_there() -> None:
    made = _connected(HttpToolsProtocol)
    made.on_message_begin()
    missing = [name for name in UVICORN_CONTRACT["attributes"] if not hasattr(made, name)]
    assert missing == []
    assert [name for name in UVICORN_CONTRACT["flow"] if not hasattr(made.flow, name)] == []


def test_the_scope_the_adapter_builds_is_the_one_uvicorn_builds() -> None:
    made = _connected(HttpToolsProtocol)
    made.on_message_begin()
    ours = _connected(NativeLaneProtocol)
    ours.on_message_begin()
    assert isinstance(ours, NativeLaneProtocol)
    assert sorted(made.scope) == sorted(UVICORN_CONTRACT["scope"])
    assert ours.asgi_scope() == made.scope


def test_the_native_cycle_has_everything_uvicorn_reads_of_a_cycle() -> None:
    source = inspect.getsource(HttpToolsProtocol)
    read = set(re.findall(r"self\.cycle\.(\w+)", source))
    assert read <= set(UVICORN_CONTRACT["cycle"]), f"uvicorn now also reads {read - set(UVICORN_CONTRACT['cycle'])}"
    assert set(UVICORN_CONTRACT["cycle"]) <= set(uvicorn_adapter._Cycle.__slots__)


def test_installed_uvicorn_is_in_the_pinned_range() -> None:
    document = tomllib.loads((ROOT / "pyproject.toml").read_text())
    pins = [spec for spec in document["project"]["dependencies"] if spec.startswith("uvicorn[standard]")]
    assert len(pins) == 1
    bounds = re.fullmatch(r"uvicorn\[standard\]>=([\d.]+),<([\d.]+)", pins[0])
    assert bounds is not None, f"{pins[0]}: a range, >=the version tested,<the next minor"
    low, high = (_version(bound) for bound in bounds.groups())
    assert low <= _version(version("uvicorn")) < high


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def test_uvicorn_internals_are_imported_by_the_adapters_only() -> None:
    importers = sorted(
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if re.search(r"^\s*(from|import) uvicorn\.protocols", path.read_text(), re.MULTILINE)
    )
    assert importers == ["chassis/uvicorn_adapter.py"]


def test_the_status_lines_the_adapter_writes_are_uvicorn_s() -> None:
    for status in UVICORN_CONTRACT["status_lines"]:
        assert STATUS_LINE[status].startswith(b"HTTP/1.1 %d " % status)

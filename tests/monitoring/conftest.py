"""Fixtures for the monitoring tests: the Prometheus tools from .tools/bin."""

from __future__ import annotations

import pytest
from monitoring_support import find_tool


@pytest.fixture(scope="session")
def promtool() -> str:
    return find_tool("promtool")


@pytest.fixture(scope="session")
def amtool() -> str:
    return find_tool("amtool")

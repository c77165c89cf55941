"""Shared helpers of the monitoring tests: paths, the repository root on sys.path, finding the tools."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "monitoring"
TOOLS_BIN = ROOT / ".tools" / "bin"

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def find_tool(name: str) -> str:
    """The path of a tool from .tools/bin (preferred) or PATH; fail in CI, skip elsewhere, when missing."""
    local = TOOLS_BIN / name
    if local.exists() and os.access(local, os.X_OK):
        return str(local)
    found = shutil.which(name)
    if found:
        return found
    message = f"{name} is not installed: run `bash tools/install-prometheus.sh`"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """Run a tool and capture its output (never raises on a non-zero exit)."""
    return subprocess.run(args, capture_output=True, text=True, timeout=60, cwd=cwd, check=False)

"""requirements.lock agrees with pyproject.toml: every runtime pin is locked at the same version."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent


def _name(requirement: str) -> str:
    return re.split(r"[\[=<>~! ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_every_runtime_pin_is_locked_at_the_same_version() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    locked = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            locked[name.lower().replace("_", "-")] = version
    for requirement in project["dependencies"]:
        name, _, version = requirement.partition("==")
        if not version:  # a range (uvicorn's, the one its adapter's contract test passed on): locked inside it
            version = locked.get(_name(name), "")
            assert Requirement(requirement).specifier.contains(version), f"{requirement} is not locked in its range"
        assert locked.get(_name(name)) == version, f"{requirement} is not locked as pinned"

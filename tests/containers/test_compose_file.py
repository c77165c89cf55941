"""docker-compose.yml runs on Compose v2 and on Debian's Compose v1.29: it is checked against the Compose
Specification's JSON schema (tools/install-compose-schema.sh; the release in that package predates the top-level
`name:` and inline `configs.*.content`, which v1.29 refuses, so the schema rejects them too)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from shop_testing import require

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / ".tools" / "compose-spec" / "compose-spec.json"


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft201909Validator:
    require(SCHEMA.is_file(), f"{SCHEMA} is missing (make tools)")
    return jsonschema.Draft201909Validator(json.loads(SCHEMA.read_text()))


@pytest.fixture
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _errors(validator: jsonschema.Draft201909Validator, document: dict[str, Any]) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


def test_docker_compose_yml_follows_the_compose_spec(validator: jsonschema.Draft201909Validator, compose: dict) -> None:
    assert _errors(validator, compose) == []


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda d: d.update(name="ecommerce"), id="top-level name (v1.29 refuses it)"),
        pytest.param(lambda d: d.update(configs={"c": {"content": "x"}}), id="inline config (v1.29 refuses it)"),
        pytest.param(lambda d: d["services"]["postgres"].update(restart=5), id="a wrongly typed field"),
    ],
)
def test_the_schema_check_refuses_what_compose_v1_cannot_run(
    validator: jsonschema.Draft201909Validator, compose: dict, change: Any
) -> None:
    broken = copy.deepcopy(compose)
    change(broken)
    assert _errors(validator, broken) != []


def test_every_file_the_compose_services_mount_exists(compose: dict) -> None:
    """Bind mounts replace inline configs: a missing file would be mounted as an empty folder."""
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name} mounts {source}, which is not there"


def test_the_container_scripts_pass_shellcheck() -> None:
    import subprocess

    shellcheck = ROOT / ".venv" / "bin" / "shellcheck"
    require(shellcheck.exists(), "shellcheck is missing (make install)")
    scripts = [str(p.relative_to(ROOT)) for p in (ROOT / "tools" / "containers").rglob("*.sh")]
    scripts.append("tools/install-compose-schema.sh")
    result = subprocess.run([str(shellcheck), "-x", *scripts], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr

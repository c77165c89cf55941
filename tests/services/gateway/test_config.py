"""The route table: its loading, its globs, and config-repo/api-gateway.yml kept equal to the packaged default."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from ecommerce.services.gateway.config import DEFAULT_FILE, GatewayConfig, glob_regex, load_config

CONFIG_REPO = Path(__file__).resolve().parents[3] / "config-repo" / "api-gateway.yml"


def test_config_repo_route_table_equals_the_packaged_default() -> None:
    served = yaml.safe_load(CONFIG_REPO.read_text())["gateway"]
    assert load_config(served) == load_config()


def test_load_order_inline_then_file_then_default(tmp_path: Path) -> None:
    document = yaml.safe_load(DEFAULT_FILE.read_text())
    routes = document["gateway"].get("routes") or [  # the packaged file may take them from the component table
        route.model_dump(by_alias=True, exclude_none=True) for route in load_config().routes
    ]
    document["gateway"]["routes"] = routes[:1]
    path = tmp_path / "routes.yml"
    path.write_text(yaml.safe_dump(document))
    assert len(load_config(None, path).routes) == 1
    assert len(load_config({"gateway": document["gateway"]}).routes) == 1
    assert len(load_config().routes) == 7


@pytest.mark.parametrize(
    ("glob", "path", "matches"),
    [
        ("/a/**", "/a", True),
        ("/a/**", "/a/b/c", True),
        ("/a/**", "/ab", False),
        ("/*/actuator/health", "/x/actuator/health", True),
        ("/*/actuator/health", "/x/y/actuator/health", False),
        ("/*/actuator/**", "/x/actuator/env/a", True),
        ("/**", "/anything/at/all", True),
        ("/a.b/**", "/aXb/c", False),
    ],
)
def test_globs(glob: str, path: str, matches: bool) -> None:
    assert bool(glob_regex(glob).fullmatch(path)) is matches


@pytest.mark.parametrize(
    "routes",
    [
        [{"id": "a", "path": "/a/b/**", "service": "a"}],
        [{"id": "a", "path": "/a/**", "service": "a"}, {"id": "a", "path": "/b/**", "service": "b"}],
        [{"id": "a", "path": "/a/**", "service": "a"}, {"id": "b", "path": "/a/**", "service": "b"}],
        [{"id": "a", "path": "/a/**", "service": "a", "unknown-key": 1}],
    ],
)
def test_bad_route_tables_are_refused(routes: list[dict[str, object]]) -> None:
    with pytest.raises(ValidationError):
        GatewayConfig.model_validate({"routes": routes})

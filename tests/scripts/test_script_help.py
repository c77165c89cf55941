"""Every scripts/*.sh answers --help before it looks for its tools: no kind, helm, kubectl, docker or Python."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted((ROOT / "scripts").glob("*.sh"))
# What a usage text may need from the system; the cluster tools and Python are left out on purpose.
BASIC_TOOLS = ("bash", "basename", "cat", "date", "dirname", "printf")
CLUSTER_TOOLS = ("kind", "helm", "helm4", "kubectl", "docker", "python", "python3")


@pytest.fixture(scope="module")
def bare_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A PATH of one folder holding only the basic tools (links to the system's)."""
    folder = tmp_path_factory.mktemp("bare-bin")
    for tool in BASIC_TOOLS:
        found = shutil.which(tool)
        assert found is not None, f"{tool} is missing on this machine"
        (folder / tool).symlink_to(found)
    return folder


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.name)
def test_help_needs_no_tools(bare_path: Path, script: Path, tmp_path: Path) -> None:
    assert not [tool for tool in CLUSTER_TOOLS if (bare_path / tool).exists()]
    env = {"PATH": str(bare_path), "HOME": str(tmp_path), "LC_ALL": "C"}
    result = subprocess.run(
        [str(bare_path / "bash"), str(script), "--help"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"Usage: {script.name}"), result.stdout

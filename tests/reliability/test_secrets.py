"""A secret scan of the repository: no private key, token or password in a tracked file, except development
defaults marked as such (a `-demo`/`dev`/`test`/`example` value, or a placeholder)."""

from __future__ import annotations

import re
import subprocess

from shop_testing import ROOT, require

SKIP_SUFFIXES = (".png", ".jpg", ".ico", ".woff", ".woff2", ".gz", ".lock")
PATTERNS = {
    "private key": re.compile(r"-----BEGIN (?:RSA |EC |OPENSSH |DSA |ENCRYPTED )?PRIVATE KEY-----"),
    "AWS access key": re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"),
    "Slack token": re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
    "signed JWT": re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{20,}"),
    "password": re.compile(
        r"""(?i)(?:password|passwd|secret|api[_-]?key|encrypt[_-]?key)["']?\s*[:=]\s*["']([^"'\s]{6,})["']"""
    ),
}
# What a marked development default or a placeholder looks like.
MARKED = re.compile(
    r"(?i)demo|dev|test|example|sample|change[-_]?me|placeholder|dummy|fake|local|\$\{|\$\(|\{\{|<[a-z-]+>"
)
# A file that says, in capitals, that it holds development defaults (`# DEVELOPMENT ONLY`) may hold them.
DEVELOPMENT_FILE = re.compile(r"\bDEVELOPMENT\b")
# Test data: made-up passwords for made-up users (keys and tokens are still looked for).
TEST_DATA = ("tests/",)
# Code that builds a PEM in memory, or documents what one looks like, rather than holding a key.
PEM_MENTION = re.compile(r"""["'`]-----BEGIN [A-Z ]*PRIVATE KEY-----["'`]|BEGIN .*PRIVATE KEY.*(regex|re\.|pattern)""")


def tracked_files() -> list[str]:
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=False)
    require(listed.returncode == 0, "not a git checkout")
    return [name for name in listed.stdout.decode().split("\0") if name and not name.endswith(SKIP_SUFFIXES)]


def scan(name: str, text: str) -> list[str]:
    found = []
    if DEVELOPMENT_FILE.search(text):
        return found
    for number, line in enumerate(text.splitlines(), 1):
        for kind, pattern in PATTERNS.items():
            match = pattern.search(line)
            if match is None:
                continue
            if kind == "password" and name.startswith(TEST_DATA):
                continue
            if kind == "password" and MARKED.search(match.group(1) + " " + line):
                continue
            if kind == "private key" and (PEM_MENTION.search(line) or "PATTERNS" in line):
                continue
            found.append(f"{name}:{number}: {kind}: {line.strip()[:120]}")
    return found


def test_no_secrets_in_tracked_files() -> None:
    findings: list[str] = []
    for name in tracked_files():
        path = ROOT / name
        if not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        findings += scan(name, text)
    assert not findings, "\n".join(findings)


def test_the_scan_finds_what_it_looks_for() -> None:
    key = "-----BEGIN RSA " + "PRIVATE KEY-----"
    assert scan("x", key)
    assert scan("x", 'DATABASE_PASSWORD: "s3cr3t-Pr0d-value"')
    assert scan("x", "token = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhZG1pbiJ9.c2lnbmF0dXJlc2lnbmF0dXJlc2ln'")
    assert not scan("x", 'ADMIN_PASSWORD: "admin-demo"')
    assert not scan("x", 'password: "${DATABASE_PASSWORD}"')
    assert not scan("x", "# DEVELOPMENT ONLY\n" + key)
    assert scan("x", "# development notes\n" + key)

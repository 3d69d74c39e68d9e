"""The LOW items of security #21 (finding 5): what the Functions package ships, what the plan
puts into Durable history, and a `days` parameter that is a digit to str.isdigit only."""

from __future__ import annotations

import fnmatch
from pathlib import Path, PurePosixPath

import pytest


REPO = Path(__file__).resolve().parents[2]


def ignored_by_funcignore(path: str) -> bool:
    """gitignore rules as `func azure functionapp publish` applies .funcignore: a pattern
    without a slash matches any path segment, one with a slash the path from the root; a
    matching folder excludes everything below it; `!` re-includes."""
    parts = PurePosixPath(path).parts
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for line in (REPO / ".funcignore").read_text().splitlines():
        pattern = line.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate, pattern = pattern.startswith("!"), pattern.lstrip("!").rstrip("/")
        if "/" in pattern:
            hit = any(fnmatch.fnmatchcase(p, pattern.lstrip("/")) for p in prefixes)
        else:
            hit = any(fnmatch.fnmatchcase(part, pattern) for part in parts)
        if hit:
            ignored = not negate
    return ignored


@pytest.mark.parametrize("path", [".dlt/secrets.toml", ".dlt/prod.secrets.toml", ".env", ".env.local",
                                  "local.settings.json"])
def test_the_functions_package_ships_no_secret_file(path):
    assert ignored_by_funcignore(path), f"{path} would be deployed: add it to .funcignore"


@pytest.mark.parametrize("path", ["function_app.py", "host.json", "requirements.txt", "ingest/load.py",
                                  "ingest/dashboard/static/chart.umd.min.js", ".dlt/config.toml"])
def test_the_functions_package_keeps_what_the_app_needs(path):
    assert not ignored_by_funcignore(path)

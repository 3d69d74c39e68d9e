"""What the CLI's commands import (ingest/config/dlt_names.py, ingest/cli.py). dlt (and the
sqlalchemy and sqlglot it pulls in) is about half a second of every process that imports it:
commands that never name a dlt table, never read the lake and never load (`template`,
`dashboard`, `--help`) do not import it. `validate` does: the workbook's target names are
checked with dlt's own naming convention. Each case is a fresh interpreter (subprocess), its
`sys.modules` read at the end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PROBE = """
import json, sys
from ingest.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:  # --help
    code = exc.code
heavy = sorted({m.split('.')[0] for m in sys.modules if m.split('.')[0] in ('dlt', 'sqlalchemy', 'sqlglot')})
print(json.dumps({"code": code, "heavy": heavy}))
"""


def _imports(tmp_path: Path, *argv: str) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE, *argv], cwd=tmp_path, capture_output=True, text=True,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "INGEST_AUDIT_DIR": str(tmp_path)},
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("argv", [
    ("template", "--out", "ingestion_config.xlsx"),
    ("dashboard", "--out", "dashboard.html"),
    ("--help",),
], ids=["template", "dashboard", "help"])
def test_commands_that_load_nothing_do_not_import_dlt(tmp_path: Path, argv: tuple[str, ...]) -> None:
    seen = _imports(tmp_path, *argv)
    assert seen["code"] == 0
    assert seen["heavy"] == [], f"{' '.join(argv)} imported {seen['heavy']}"


def test_validate_imports_dlt_for_its_naming_convention(tmp_path: Path) -> None:
    """The other side: the target-name check asks dlt (a copy of its rules could drift), once
    there is a job whose table to name (an empty template has none)."""
    assert _imports(tmp_path, "template", "--out", "empty.xlsx")["code"] == 0
    assert _imports(tmp_path, "validate", "--config", "empty.xlsx")["heavy"] == []
    subprocess.run([sys.executable, "-m", "examples.make_demo", "--out", str(tmp_path / "demo")], cwd=REPO,
                   check=True, capture_output=True)
    seen = _imports(tmp_path, "validate", "--config", str(tmp_path / "demo" / "ingestion_config.xlsx"))
    assert seen["code"] == 0 and "dlt" in seen["heavy"]

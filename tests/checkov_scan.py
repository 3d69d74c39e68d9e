"""Run checkov (its own venv, .tools/checkov-venv, set up by scripts/install_checkov.sh) over
a folder of Bicep: the IaC checks and the secrets scan, offline, as JSON."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHECKOV = Path(os.environ.get("INGEST_CHECKOV", REPO / ".tools" / "checkov-venv" / "bin" / "checkov"))
FRAMEWORKS = ("bicep", "secrets")


def checkov_path() -> Path:
    if not CHECKOV.is_file():
        raise FileNotFoundError(f"checkov not found at {CHECKOV}: run `bash scripts/install_checkov.sh`"
                                " (make test does), or point INGEST_CHECKOV at a checkov executable")
    return CHECKOV


def scan(folder: Path) -> dict[str, dict]:
    """checkov's reports by framework ("bicep", "secrets"); a framework without findings or
    files may have no report. --skip-download: no call to the vendor's platform (no network)."""
    command = [str(checkov_path()), "--directory", str(folder), "--framework", *FRAMEWORKS,
               "--skip-download", "--output", "json"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "BC_SKIP_MAPPING": "TRUE"})
    assert done.returncode in (0, 1), f"checkov failed ({done.returncode}): {done.stderr[-2000:]}"
    reports = json.loads(done.stdout)
    if isinstance(reports, dict):
        reports = [reports]
    return {report["check_type"]: report for report in reports if "check_type" in report}


def failures(report: dict) -> list[str]:
    return [f"{c['check_id']} {c['resource']} {c['file_path']}:{c['file_line_range'][0]} {c['check_name']}"
            for c in report["results"]["failed_checks"]]

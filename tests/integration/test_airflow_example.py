"""The Airflow example's own tests (examples/airflow/tests), run in their separate Airflow
virtualenv (scripts/airflow_venv.sh, made by `make test`), so they are part of every test
run. A missing Airflow venv fails here, loudly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
AIRFLOW_PYTHON = REPO / ".tools" / "airflow-venv" / "bin" / "python"


def test_airflow_dags_and_operators_pass_in_a_real_airflow():
    assert AIRFLOW_PYTHON.exists(), "no Airflow venv: run scripts/airflow_venv.sh (make test does)"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "INGEST_", "PYTEST_"))}
    env["INGEST_PYTHON"] = sys.executable
    done = subprocess.run([str(AIRFLOW_PYTHON), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c", "/dev/null",
                           "--rootdir", str(REPO / "examples" / "airflow"), str(REPO / "examples" / "airflow" / "tests")],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "11 passed" in done.stdout.splitlines()[-1]

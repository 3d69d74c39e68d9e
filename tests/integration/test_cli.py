"""The command line, run as a user runs it: exit codes, the printed summary, logs, no secrets."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.integration.conftest import create_orders
from tests.workbooks import job_row, write_workbook

REPO = Path(__file__).resolve().parents[2]


def ingest(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run([sys.executable, "-m", "ingest", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=300)


def test_demo_runs_on_a_fresh_folder(tmp_path):
    demo = subprocess.run([sys.executable, "-m", "examples.make_demo", "--out", str(tmp_path / "demo")],
                          cwd=REPO, capture_output=True, text=True)
    assert demo.returncode == 0, demo.stderr
    env = {"SOURCES__DEMO__CREDENTIALS": f"sqlite:///{tmp_path / 'demo' / 'demo.db'}"}
    result = ingest(["run", "--config", str(tmp_path / "demo" / "ingestion_config.xlsx"),
                     "--destination", str(tmp_path / "lake")], cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Total: 2  Successful: 2  Failed: 0  Rows: 5500" in result.stdout
    assert re.search(r"demo_products +skipped +disabled", result.stdout)
    assert result.stdout.count(" ok ") == 2  # both row-count checks passed
    assert (tmp_path / "audit" / "audit_trail.csv").is_file()
    assert (tmp_path / "logs" / "ingest.log").is_file()
    assert list((tmp_path / "lake" / "raw" / "orders").rglob("*.parquet"))
    # where the data went, and absolute paths (the demo's defaults are relative folders)
    assert f"Data: {tmp_path / 'lake' / 'raw'}" in result.stdout
    assert f"Audit trail: {tmp_path / 'audit' / 'audit_trail.csv'}" in result.stdout


def test_a_workbook_with_no_job_to_run_says_so(tmp_path):
    book = write_workbook(tmp_path / "w.xlsx", [job_row(enabled="N")])
    result = ingest(["run", "--config", str(book), "--destination", str(tmp_path / "lake")], cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No job ran: the workbook has no enabled job rows" in result.stdout


def test_exit_codes_and_summary(postgres, pg_schema, tmp_path):
    create_orders(postgres, pg_schema, 40)
    canary = "Canary-Cli-5521"
    env = {"SOURCES__PG__CREDENTIALS": postgres.url(),
           "SOURCES__PGBAD__CREDENTIALS": postgres.url(password=canary),
           "INGEST_DESTINATION": str(tmp_path / "lake")}
    good = write_workbook(tmp_path / "good.xlsx", [job_row(source_schema=pg_schema)])
    result = ingest(["run", "--config", str(good)], cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Total: 1  Successful: 1  Failed: 0  Rows: 40" in result.stdout

    failing = write_workbook(tmp_path / "failing.xlsx", [
        job_row(source_schema=pg_schema),
        job_row(job_name="bad_login", connection="pgbad", source_schema=pg_schema, target_table="o2")])
    result = ingest(["run", "--config", str(failing), "--jobs", "bad_*,orders"], cwd=tmp_path, env=env)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Total: 2  Successful: 1  Failed: 1" in result.stdout
    assert "SourceAuthenticationError" in result.stdout

    invalid = write_workbook(tmp_path / "invalid.xlsx", [
        job_row(source_schema=pg_schema), job_row(job_name="typo", load_type="INCREMENTL", target_table="o3")])
    result = ingest(["run", "--config", str(invalid)], cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert "jobs!H3: load_type 'INCREMENTL' is not one of FULL, INCREMENTAL, CDC" in result.stderr
    assert "Successful: 1" in result.stdout  # the valid row still ran

    unknown = ingest(["run", "--config", str(good), "--jobs", "nope"], cwd=tmp_path, env=env)
    assert unknown.returncode == 2 and "no job in the workbook matches 'nope'" in unknown.stderr

    everything = "".join(p.read_text() for p in (tmp_path / "logs").glob("*"))
    everything += (tmp_path / "audit" / "audit_trail.csv").read_text()
    everything += "".join(p.read_text() for p in (tmp_path / "audit" / "runs").glob("*.json"))
    assert canary not in everything


def test_validate_names_every_bad_cell(tmp_path):
    book = write_workbook(tmp_path / "w.xlsx", [
        job_row(), job_row(job_name="b", enabled="?", source_table="x y", target_table="b"),
        job_row(job_name="c", load_type="INCREMENTAL", target_table="c")])
    result = ingest(["validate", "--config", str(book)], cwd=tmp_path)
    assert result.returncode == 2
    for place in ("jobs!B3", "jobs!F3", "jobs!I4"):
        assert place in result.stderr
    assert "1 valid job(s), 3 error(s)" in result.stdout
    ok = write_workbook(tmp_path / "ok.xlsx", [job_row()])
    assert ingest(["validate", "--config", str(ok)], cwd=tmp_path).returncode == 0


def test_template_command(tmp_path):
    result = ingest(["template", "--out", str(tmp_path / "t.xlsx")], cwd=tmp_path)
    assert result.returncode == 0 and (tmp_path / "t.xlsx").is_file()
    assert ingest(["validate", "--config", str(tmp_path / "t.xlsx")], cwd=tmp_path).returncode == 0

"""The LOW items of security #21 (finding 5): what the Functions package ships, what the plan
puts into Durable history, and a `days` parameter that is a digit to str.isdigit only."""

from __future__ import annotations

import fnmatch
from pathlib import Path, PurePosixPath

import azure.functions as func
import pytest

from ingest.config import read_workbook
from ingest.core.settings import Settings
from ingest.dashboard.http import MAX_DAYS, handle_dashboard
from ingest.drivers.dry_run import describe_plan
from ingest.plan.planner import make_plan, new_run_context
from tests.workbooks import job_row, write_workbook

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


def test_the_plan_in_durable_history_carries_no_secret_from_a_cell(tmp_path):
    """plan_activity returns Plan.to_dict() (Durable history keeps it); the dry run returns
    describe_plan(...).to_dict(). A secret pasted into a cell must not reach either."""
    rows = [job_row(job_name="a", connection="postgresql://etl:Canary-Cell-Pw-71@db.example/sales"),
            job_row(job_name="b", source_table="t", primary_key="id;password=Canary-Cell-Pw-72"),
            job_row(job_name="c", source_table="c")]
    config = read_workbook(write_workbook(tmp_path / "w.xlsx", rows))
    plan = make_plan(config, new_run_context())
    settings = Settings(destination=str(tmp_path / "lake"), audit_dir=tmp_path / "audit")
    for output in (plan.to_dict(), describe_plan(plan, settings, read_state=None).to_dict()):
        text = str(output)
        assert "Canary-Cell-Pw-71" not in text and "Canary-Cell-Pw-72" not in text
        assert "jobs!D2" in text and "etl:***@db.example" in text  # still names the cell
        assert [j["job_name"] for j in output["jobs"]] == ["c"]  # the valid job still runs


def request(params: dict) -> func.HttpRequest:
    return func.HttpRequest("GET", "http://localhost/api/dashboard", params=params, body=b"")


@pytest.mark.parametrize("days", ["²", "٣", "1²", "0", "-1", str(MAX_DAYS + 1), "7.0", "1e2", "seven"])
def test_a_days_parameter_that_is_not_a_plain_whole_number_is_a_400(tmp_path, days):
    settings = Settings(destination=str(tmp_path / "lake"), audit_dir=tmp_path / "audit")
    response = handle_dashboard(request({"days": days}), settings)
    assert response.status_code == 400
    assert response.get_body().decode() == f"days must be a whole number from 1 to {MAX_DAYS}\n"

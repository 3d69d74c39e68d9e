"""Dependency waves, skip after failure and re-run of failed jobs through the local runner and
the command line, against a real PostgreSQL source and a local lake."""

from __future__ import annotations

import json
from datetime import datetime

from ingest.records.audit import read_audit
from ingest.config import read_workbook
from ingest.records.history import FileRunHistory
from ingest.plan.planner import make_plan, new_run_context
from ingest.plan.request import RunRequest
from ingest.drivers.local.runner import run_local
from tests.integration.conftest import create_orders
from tests.integration.test_cli import ingest
from tests.workbooks import job_row, write_workbook


def dependency_rows(schema: str) -> list[dict]:
    """customers -> orders; broken (missing table) -> after_broken -> last; plus a free job."""
    return [job_row(job_name="orders", source_schema=schema, depends_on="customers"),
            job_row(job_name="customers", source_schema=schema, source_table="customers"),
            job_row(job_name="broken", source_schema=schema, source_table="not_there_yet", target_table="broken"),
            job_row(job_name="after_broken", source_schema=schema, source_table="after_broken",
                    depends_on="broken"),
            job_row(job_name="last", source_schema=schema, source_table="last_table", depends_on="after_broken, orders"),
            job_row(job_name="free", source_schema=schema, source_table="free")]


def create_tables(postgres, schema: str) -> None:
    for table, rows in (("orders", 30), ("customers", 20), ("after_broken", 5), ("last_table", 3), ("free", 7)):
        create_orders(postgres, schema, rows, table=table)


def test_waves_run_in_order_and_dependents_of_a_failure_are_skipped(postgres, pg_schema, settings, tmp_path):
    create_tables(postgres, pg_schema)
    book = write_workbook(tmp_path / "w.xlsx", dependency_rows(pg_schema))
    plan = make_plan(read_workbook(book), new_run_context())
    assert plan.waves == [["customers", "broken", "free"], ["orders", "after_broken"], ["last"]]
    summary = run_local(plan, settings, book)
    by_name = {j["job_name"]: j for j in summary.jobs}
    assert {n: j["status"] for n, j in by_name.items()} == {
        "orders": "succeeded", "customers": "succeeded", "broken": "failed", "after_broken": "skipped",
        "last": "skipped", "free": "succeeded"}
    assert by_name["broken"]["error_class"] == "SourceObjectNotFoundError"
    assert by_name["after_broken"]["error_message"] == "not run: depends on 'broken', which failed"
    assert by_name["last"]["error_message"] == "not run: depends on 'after_broken', which was skipped"
    assert by_name["last"]["rows_processed"] == 0 and by_name["last"]["attempts"] == 0
    # a wave starts after the previous one ended
    started = lambda name: datetime.fromisoformat(by_name[name]["started_at"])
    finished = lambda name: datetime.fromisoformat(by_name[name]["finished_at"])
    assert started("orders") >= finished("customers") and started("orders") >= finished("free")
    assert (summary.succeeded, summary.failed, summary.dependency_skipped, summary.total) == (3, 1, 2, 6)
    assert summary.exit_code == 1 and summary.waves == plan.waves
    audit = {r["job_name"]: r for r in read_audit(settings.audit_dir)}
    assert audit["last"]["status"] == "skipped" and "after_broken" in audit["last"]["error_message"]

    # re-run the failed jobs of that run once the table exists: the failed job and its skipped
    # dependents run, in their waves; the jobs that succeeded do not
    create_orders(postgres, pg_schema, 9, table="not_there_yet")
    rerun_plan = make_plan(read_workbook(book), new_run_context(),
                           request=RunRequest(rerun_failed=summary.run_id), history=FileRunHistory(settings.audit_dir))
    assert rerun_plan.waves == [["broken"], ["after_broken"], ["last"]]  # orders is not in the run: no wait
    rerun = run_local(rerun_plan, settings, book)
    assert {j["job_name"]: (j["status"], j["rows_processed"]) for j in rerun.jobs} == {
        "broken": ("succeeded", 9), "after_broken": ("succeeded", 5), "last": ("succeeded", 3)}
    assert rerun.parameters["rerun_failed"] == summary.run_id and rerun.exit_code == 0


def test_an_invalid_dependency_row_skips_its_dependents(postgres, pg_schema, settings, tmp_path):
    create_orders(postgres, pg_schema, 10)
    book = write_workbook(tmp_path / "w.xlsx", [
        job_row(job_name="parent", source_schema=pg_schema, load_type="SOMETIMES"),
        job_row(job_name="child", source_schema=pg_schema, depends_on="parent")])
    summary = run_local(make_plan(read_workbook(book), new_run_context()), settings, book)
    by_name = {j["job_name"]: j for j in summary.jobs}
    assert by_name["parent"]["status"] == "invalid"
    assert by_name["child"]["status"] == "skipped"
    assert by_name["child"]["error_message"] == "not run: depends on 'parent', which has an invalid workbook row"
    assert summary.exit_code == 2 and summary.failed == 1 and summary.dependency_skipped == 1


def test_cli_plan_shows_waves_reasons_and_watermarks_and_loads_nothing(postgres, pg_schema, tmp_path):
    create_orders(postgres, pg_schema, 40)
    create_orders(postgres, pg_schema, 10, table="customers")
    env = {"SOURCES__PG__CREDENTIALS": postgres.url(), "INGEST_DESTINATION": str(tmp_path / "lake")}
    book = write_workbook(tmp_path / "w.xlsx", [
        job_row(source_schema=pg_schema, load_type="INCREMENTAL", watermark_column="updated_at",
                last_watermark="2024-03-01T12:00:00", depends_on="customers", schedule="daily at 02:00",
                tags="sales"),
        job_row(job_name="customers", source_schema=pg_schema, source_table="customers", tags="sales")])

    dry = ingest(["plan", "--config", str(book)], cwd=tmp_path, env=env)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    lines = dry.stdout.splitlines()
    assert lines[1:] == [
        "wave 1:",
        f"  run   customers: postgres pg {pg_schema}.customers -> customers (FULL)",
        "        every enabled job",
        "wave 2:",
        f"  run   orders: postgres pg {pg_schema}.orders -> orders (INCREMENTAL from 2024-03-01T12:00:00"
        " (workbook last_watermark: no state in the lake yet))",
        "        every enabled job (schedule not applied: manual run); after customers"]
    assert not (tmp_path / "lake").exists() or not list((tmp_path / "lake").rglob("*.parquet"))
    assert not (tmp_path / "audit").exists()

    loaded = ingest(["run", "--config", str(book), "--tags", "sales"], cwd=tmp_path, env=env)
    assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    as_json = ingest(["plan", "--config", str(book), "--json", "--jobs", "orders"], cwd=tmp_path, env=env)
    report = json.loads(as_json.stdout)
    assert report["waves"] == [["orders"]] and report["parameters"]["jobs"] == ["orders"]
    (orders,) = report["jobs"]
    assert orders["start_from"] == "2024-03-01T12:00:40.123456 (dlt state in the lake)"
    assert report["skipped"] == {"customers": "not selected"}
    # the scheduler's view: orders loaded a moment ago, so its daily slot is done
    scheduled = json.loads(ingest(["plan", "--config", str(book), "--json", "--scheduled"], cwd=tmp_path,
                                  env=env).stdout)
    assert scheduled["waves"] == [["customers"]] and scheduled["parameters"]["apply_schedules"] is True
    assert scheduled["skipped"]["orders"].startswith("not due: slot ")
    everything = ingest(["run", "--dry-run", "--config", str(book), "--force-full", "--json"], cwd=tmp_path, env=env)
    assert everything.returncode == 2 and "name the jobs one by one" in everything.stderr
    full = ingest(["run", "--dry-run", "--config", str(book), "--force-full", "--jobs", "orders,customers", "--json"],
                  cwd=tmp_path, env=env)
    report = json.loads(full.stdout)
    assert report["jobs"][1]["load"].startswith("full refresh")
    assert report["jobs"][1]["start_from"] == "the beginning (force FULL resets the state)"

    bad = ingest(["plan", "--config", str(book), "--backfill-start", "2024-02-01", "--backfill-end", "2024-01-01"],
                 cwd=tmp_path, env=env)
    assert bad.returncode == 2 and "backfill start '2024-02-01' must be before end '2024-01-01'" in bad.stderr
    unknown = ingest(["run", "--config", str(book), "--rerun-failed", "20200101T000000Z-nope"], cwd=tmp_path, env=env)
    assert unknown.returncode == 2 and "the audit trail has no run '20200101T000000Z-nope'" in unknown.stderr

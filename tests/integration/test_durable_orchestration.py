"""The Durable orchestrator with dependencies, schedules, re-runs and dry runs, through the
Durable SDK's real replay engine (tests/durable_driver.py), against real PostgreSQL and
Azurite (workbook, lake and audit trail in blob storage)."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timezone

import azure.functions as func

from ingest.drivers.azure import blueprint
from ingest.config import read_workbook
from ingest.plan.planner import make_plan, new_run_context
from ingest.plan.request import RunRequest
from ingest.drivers.local.runner import run_local
from tests.durable_driver import SUB_COMPLETED, SUB_CREATED, DurableDriver
from tests.integration.conftest import create_orders
from tests.integration.test_durable_app import app_env, lake_rows, upload  # noqa: F401 (fixture)
from tests.integration.test_waves_and_reruns import create_tables, dependency_rows
from tests.unit.test_function_app import FakeDurableClient
from tests.workbooks import job_row, write_workbook

ORCHESTRATOR = "ingest_run_orchestrator"


def start_input(trigger: str = "http", **request) -> dict:
    return {"request": RunRequest.from_dict(request).to_dict(), "trigger": trigger}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def test_durable_waves_skip_dependents_of_a_failure_like_the_local_runner(
        postgres, pg_schema, app_env, tmp_path, settings):
    create_tables(postgres, pg_schema)
    rows = dependency_rows(pg_schema)
    upload(app_env[1], write_workbook(tmp_path / "w.xlsx", rows))
    from function_app import app

    driver = DurableDriver(app)
    outcome = driver.run(ORCHESTRATOR, start_input(), "ingest-all")
    summary = outcome.output
    statuses = {j["job_name"]: j["status"] for j in summary["jobs"]}
    assert statuses == {"orders": "succeeded", "customers": "succeeded", "broken": "failed",
                        "after_broken": "skipped", "last": "skipped", "free": "succeeded"}
    assert (summary["succeeded"], summary["failed"], summary["dependency_skipped"]) == (3, 1, 2)
    assert summary["waves"] == [["customers", "broken", "free"], ["orders", "after_broken"], ["last"]]
    skipped = {j["job_name"]: j["error_message"] for j in summary["jobs"] if j["status"] == "skipped"}
    assert skipped == {"after_broken": "not run: depends on 'broken', which failed",
                       "last": "not run: depends on 'after_broken', which was skipped"}
    loaded = [p["job"]["job_name"] for name, p in driver.activity_calls if name == "load_job"]
    assert sorted(loaded) == ["broken", "customers", "free", "orders"]  # skipped jobs never start
    assert outcome.custom_status == {"jobs_total": 6, "jobs_done": 6, "run_id": summary["run_id"],
                                     "wave": 3, "waves": 3}

    # in the history the orchestrator wrote, wave 2 was scheduled only after wave 1 completed
    history = outcome.history
    created = {e["EventId"]: (i, e["InstanceId"].split(":")[-1]) for i, e in enumerate(history)
               if e["EventType"] == SUB_CREATED}
    completed = {created[e["TaskScheduledId"]][1]: i for i, e in enumerate(history) if e["EventType"] == SUB_COMPLETED}
    created_at = {name: i for i, name in created.values()}
    assert created_at["orders"] > max(completed[n] for n in ("customers", "broken", "free"))

    # replaying the finished history is deterministic and runs nothing
    calls = len(driver.activity_calls)
    again = driver.replay(ORCHESTRATOR, history, "ingest-all", start_input())
    assert again["actions"] == outcome.states[-1]["actions"] and again["output"] == summary
    assert len(driver.activity_calls) == calls

    # the local runner decides the same
    book = write_workbook(tmp_path / "local.xlsx", rows)
    local = run_local(make_plan(read_workbook(book), new_run_context()), settings, book)
    assert {j["job_name"]: (j["status"], j["error_message"] if j["status"] == "skipped" else None)
            for j in local.jobs} == \
        {j["job_name"]: (j["status"], j["error_message"] if j["status"] == "skipped" else None)
         for j in summary["jobs"]}


def test_timer_runs_only_due_jobs_from_the_audit_trail_in_blob_storage(postgres, pg_schema, app_env, tmp_path):
    create_orders(postgres, pg_schema, 20)
    create_orders(postgres, pg_schema, 5, table="always")
    upload(app_env[1], write_workbook(tmp_path / "w.xlsx", [
        job_row(source_schema=pg_schema, schedule="daily at 02:00"),
        job_row(job_name="always", source_schema=pg_schema, source_table="always")]))
    from function_app import app

    def timer_run(start: str) -> dict:
        return DurableDriver(app, start=at(start)).run(ORCHESTRATOR, start_input("timer", apply_schedules=True),
                                                       "ingest-all").output

    first = timer_run("2026-01-05T02:00:00")
    assert sorted(j["job_name"] for j in first["jobs"]) == ["always", "orders"]
    later = timer_run("2026-01-05T02:15:00")
    assert [j["job_name"] for j in later["jobs"]] == ["always"]
    assert later["skipped"]["orders"].startswith("not due: slot 2026-01-05T02:00Z done by the run of 2026-01-05T02:00Z")
    before_next = timer_run("2026-01-06T01:58:00")
    assert "orders" in before_next["skipped"]
    next_day = timer_run("2026-01-06T02:00:00")
    assert sorted(j["job_name"] for j in next_day["jobs"]) == ["always", "orders"]
    assert next_day["parameters"]["apply_schedules"] is True
    assert lake_rows(app_env[0], f"lake{app_env[2]}", "orders") == 20  # FULL: replaced each time


def test_rerun_failed_through_durable_takes_the_failed_jobs_from_the_audit_blobs(
        postgres, pg_schema, app_env, tmp_path):
    create_tables(postgres, pg_schema)
    upload(app_env[1], write_workbook(tmp_path / "w.xlsx", dependency_rows(pg_schema)))
    from function_app import app

    first = DurableDriver(app).run(ORCHESTRATOR, start_input(), "ingest-all").output
    assert first["failed"] == 1
    create_orders(postgres, pg_schema, 9, table="not_there_yet")
    request = RunRequest(rerun_failed=first["run_id"])
    instance = blueprint.scope_instance_id(request)
    assert instance.startswith("ingest-run-")
    driver = DurableDriver(app, start=at("2026-01-05T07:00:00"))
    rerun = driver.run(ORCHESTRATOR, {"request": request.to_dict(), "trigger": "http"}, instance).output
    assert {j["job_name"]: j["status"] for j in rerun["jobs"]} == {
        "broken": "succeeded", "after_broken": "succeeded", "last": "succeeded"}
    assert rerun["waves"] == [["broken"], ["after_broken"], ["last"]]
    assert rerun["skipped"] == {n: "not selected" for n in ("orders", "customers", "free")}
    assert rerun["failed"] == 0 and rerun["parameters"]["rerun_failed"] == first["run_id"]


def post(body: dict) -> func.HttpRequest:
    return func.HttpRequest("POST", "http://localhost/api/runs", body=json.dumps(body).encode(), headers={})


def test_http_dry_run_answers_the_plan_with_lake_watermarks_and_starts_nothing(
        postgres, pg_schema, app_env, tmp_path):
    create_orders(postgres, pg_schema, 30)
    create_orders(postgres, pg_schema, 10, table="customers")
    upload(app_env[1], write_workbook(tmp_path / "w.xlsx", [
        job_row(source_schema=pg_schema, load_type="INCREMENTAL", watermark_column="updated_at",
                depends_on="customers", tags="sales"),
        job_row(job_name="customers", source_schema=pg_schema, source_table="customers", tags="crm")]))
    from function_app import app

    client = FakeDurableClient()
    before = asyncio.run(blueprint.handle_start(post({"dry_run": True}), client))
    assert before.status_code == 200 and client.started == []
    report = json.loads(before.get_body())
    assert report["dry_run"] is True and report["waves"] == [["customers"], ["orders"]]
    orders = next(j for j in report["jobs"] if j["job_name"] == "orders")
    assert orders["start_from"] == "the beginning (no state in the lake, no last_watermark)"

    DurableDriver(app).run(ORCHESTRATOR, start_input(), "ingest-all")
    after = json.loads(asyncio.run(blueprint.handle_start(post({"dry_run": True, "tags": ["sales"]}),
                                                          client)).get_body())
    (orders,) = after["jobs"]
    assert orders["start_from"] == "2024-03-01T12:00:30.123456 (dlt state in the lake)"  # read from Azurite
    assert after["skipped"] == {"customers": "not selected"}
    assert client.started == []

    bad = asyncio.run(blueprint.handle_start(post({"dry_run": True, "jobs": ["nope"]}), client))
    assert bad.status_code == 400 and "no job in the workbook matches 'nope'" in json.loads(bad.get_body())["error"]

"""Schema drift and quality rules on the Durable path: the orchestrator through the SDK's real
replay engine (tests/durable_driver.py plays the extension: no Functions host can run here),
real PostgreSQL, and Azurite for the workbook, the lake (history file) and the audit."""

from __future__ import annotations

import csv
import io
import json


from ingest.config import read_workbook
from ingest.plan.planner import make_plan, new_run_context
from ingest.drivers.local.runner import run_local
from tests.durable_driver import DurableDriver
from tests.integration.conftest import create_orders, sql
from tests.integration.test_quality_rules import ROWS, create_customers
from tests.workbooks import job_row, write_workbook


RULES = [
    {"job_name": "customers", "column": "email", "rule": "not_null", "severity": "fail"},
    {"job_name": "customers", "column": "id", "rule": "unique", "severity": "fail"},
    {"job_name": "customers", "column": "email", "rule": "format", "argument": "email", "severity": "warn"},
    {"job_name": "customers", "column": "status", "rule": "allowed_values", "argument": "new,active,closed"},
    {"job_name": "orders", "rule": "min_rows", "argument": 10, "severity": "fail"},
]


def blob_csv(container, prefix: str) -> list[dict[str, str]]:
    rows = []
    for blob in container.list_blobs(name_starts_with=prefix):
        rows.extend(csv.DictReader(io.StringIO(container.download_blob(blob.name).readall().decode())))
    return rows


def test_checks_run_on_the_durable_path_and_match_the_local_runner(postgres, pg_schema, app_env, tmp_path, settings):
    service, config_container, suffix = app_env
    create_customers(postgres, pg_schema)
    create_orders(postgres, pg_schema, 30)
    jobs = [job_row(job_name="customers", source_schema=pg_schema, source_table="customers", primary_key=None),
            job_row(source_schema=pg_schema, drift_severity="fail")]
    book = write_workbook(tmp_path / "w.xlsx", jobs, rules=RULES)
    config_container.upload_blob("ingestion_config.xlsx", book.read_bytes(), overwrite=True)
    from function_app import app

    driver = DurableDriver(app)
    first = driver.run("ingest_run_orchestrator", {}, "ingest-all").output
    by_name = {j["job_name"]: j for j in first["jobs"]}
    customers = by_name["customers"]
    assert (customers["status"], customers["error_class"]) == ("failed", "DataQualityError")
    assert [(r["rule"], r["status"], r["observed"]) for r in customers["quality"]] == [
        ("not_null", "failed", 4), ("unique", "failed", 3), ("format", "failed", 5), ("allowed_values", "failed", 4)]
    assert customers["rows_processed"] == ROWS + 3  # landed, flagged
    assert by_name["orders"]["status"] == "succeeded" and by_name["orders"]["drift"]["status"] == "baseline"
    assert [r["status"] for r in by_name["orders"]["quality"]] == ["passed"]
    assert len(first["quality_failures"]) == 4 and first["drift_findings"] == []

    # check results in the audit container, one CSV per run
    audit = service.get_container_client(f"audit{suffix}")
    assert first["checks_path"].endswith(f"check_results/{first['started_at'][:10]}/{first['run_id']}.csv")
    rows = blob_csv(audit, "check_results/")
    assert sorted((r["job_name"], r["check"], r["rule"], r["status"]) for r in rows) == sorted([
        ("customers", "schema_drift", "schema", "passed"), ("customers", "quality", "not_null", "failed"),
        ("customers", "quality", "unique", "failed"), ("customers", "quality", "format", "failed"),
        ("customers", "quality", "allowed_values", "failed"), ("orders", "schema_drift", "schema", "passed"),
        ("orders", "quality", "min_rows", "passed")])
    summary = json.loads(audit.download_blob(f"runs/{first['run_id']}.json").readall())
    assert summary["quality_failures"] == first["quality_failures"]

    # drift across two orchestrations: the history lives in the lake container
    sql(postgres, f"ALTER TABLE {pg_schema}.orders ADD COLUMN channel text DEFAULT 'web'")
    second = driver.run("ingest_run_orchestrator", {}, "ingest-all").output
    orders = {j["job_name"]: j for j in second["jobs"]}["orders"]
    assert (orders["status"], orders["error_class"]) == ("failed", "SchemaDriftError")
    assert second["drift_findings"] == ["orders: column added: channel (text) [fail]"]
    lake = service.get_container_client(f"lake{suffix}")
    entries = [json.loads(line) for line in
               lake.download_blob("raw/_ingest_schema_history/orders.jsonl").readall().decode().splitlines()]
    assert [e["run_id"] for e in entries] == [first["run_id"], second["run_id"]]
    assert entries[1]["changes"]["added"] == [{"name": "channel", "type": "text"}]
    assert not [b.name for b in lake.list_blobs(name_starts_with="raw/_ingest_schema_history/") if b.name.endswith(".tmp")]

    # the local runner on the same source gives the same quality results and verdicts
    local_book = write_workbook(tmp_path / "local.xlsx", jobs, rules=RULES)
    local = run_local(make_plan(read_workbook(local_book), new_run_context()), settings, local_book)
    strip = lambda jobs: sorted((j["job_name"], j["error_class"] if j["job_name"] == "customers" else None,
                                 tuple((r["rule"], r["status"], r["observed"], r["rows"]) for r in j["quality"]))
                                for j in jobs)
    assert strip(local.to_dict()["jobs"]) == strip(first["jobs"]) == strip(second["jobs"])

"""Watermark strategies through the Durable orchestrator (tests/durable_driver.py runs the
SDK's replay engine; activities run for real against PostgreSQL and Azurite): a filtered
composite-watermark job with lookback, two runs, results equal to the local runner's."""

from __future__ import annotations

from datetime import timedelta


from ingest.config import read_workbook
from ingest.plan.planner import make_plan, new_run_context
from ingest.drivers.local.runner import run_local
from tests.durable_driver import DurableDriver
from tests.integration.conftest import BASE_TIME, sql
from tests.integration.test_durable_app import lake_rows, upload
from tests.workbooks import job_row, write_workbook


def create_events(postgres, schema: str) -> None:
    """40 events, 2 bursts of 20 sharing one modified_at; every third one in region EU."""
    sql(postgres, f"""
        CREATE TABLE {schema}.events (id bigint PRIMARY KEY, modified_at timestamp NOT NULL, region text);
        INSERT INTO {schema}.events
        SELECT g, %(base)s::timestamp + ((g - 1) / 20) * interval '1 minute',
               CASE WHEN g %% 3 = 0 THEN 'EU' ELSE 'US' END
        FROM generate_series(1, 40) g;""", {"base": BASE_TIME})


ROWS = [job_row(job_name="events", source_table="events", load_type="INCREMENTAL",
                watermark_column="modified_at, id", lookback="1 hours"),
        job_row(job_name="other", source_table="events", target_table="other", enabled="N")]
FILTERS = [{"job_name": "events", "column": "region", "operator": "eq", "value": "US"},
           {"job_name": "other", "column": "region = 'US' OR 1=1", "operator": "eq", "value": "x"}]
"""The free-SQL row names a job of the sheet: a row naming no job would hold back every SQL
job (filters fail closed, tests/unit/test_filters_fail_closed.py)."""


def events(output: dict) -> dict:
    return next(j for j in output["jobs"] if j["job_name"] == "events")


def test_filtered_composite_job_with_lookback_through_the_orchestrator(postgres, pg_schema, app_env, tmp_path,
                                                                        settings):
    service, config_container, suffix = app_env
    create_events(postgres, pg_schema)
    rows = [dict(r, source_schema=pg_schema) for r in ROWS]
    upload(config_container, write_workbook(tmp_path / "w.xlsx", rows, extra_sheets={"filters": FILTERS}))
    from function_app import app

    driver = DurableDriver(app)
    first = driver.run("ingest_run_orchestrator", {}, "ingest-all").output
    us = [i for i in range(1, 41) if i % 3]
    assert events(first)["rows_processed"] == len(us), first["jobs"]
    assert events(first)["watermark_after"] == (BASE_TIME + timedelta(minutes=1)).isoformat()
    assert "filters!B3" in str(first["config_errors"]) and "free SQL is not accepted" in str(first["config_errors"])

    # a tie at the last modified_at (greater id), a late row 30 s older, one EU row: 2 rows
    sql(postgres, f"""INSERT INTO {pg_schema}.events VALUES
        (41, %(last)s, 'US'), (42, %(late)s, 'US'), (43, %(last)s, 'EU')""",
        {"last": BASE_TIME + timedelta(minutes=1), "late": BASE_TIME + timedelta(seconds=30)})
    second = driver.run("ingest_run_orchestrator", {}, "ingest-all").output
    assert events(second)["rows_processed"] == 2, second["jobs"]
    third = driver.run("ingest_run_orchestrator", {}, "ingest-all").output
    assert events(third)["rows_processed"] == 0
    assert lake_rows(service, f"lake{suffix}", "events") == len(us) + 2

    # the local runner on the same data and workbook loads the same rows
    local_book = write_workbook(tmp_path / "local.xlsx", rows, extra_sheets={"filters": FILTERS})
    local = run_local(make_plan(read_workbook(local_book), new_run_context()), settings, local_book)
    assert [j["rows_processed"] for j in local.to_dict()["jobs"] if j["job_name"] == "events"] == [len(us) + 2]

"""load_type CDC in the Durable app, through the Durable SDK's real replay engine
(tests/durable_driver.py plays the extension: no Functions host can run here) into Azurite with
a real PostgreSQL (wal_level=logical): one activity reads a connection's slot for all its CDC
jobs, and the Durable run lands the same changes as the local runner."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from ingest.config import read_workbook
from ingest.drivers.local.runner import run_local
from ingest.plan.planner import make_plan, new_run_context
from tests.cdc_helpers import parquet_current, source_rows, sql
from tests.durable_driver import DurableDriver
from tests.integration.conftest import create_orders
from tests.integration.test_durable_app import upload
from tests.integration.conftest import app_env  # noqa: F401 (fixture)
from tests.workbooks import job_row, write_workbook

SCHEMA = "cdcdurable"


def rows(connection: str, pg_schema: str) -> list[dict]:
    return [job_row(job_name="accounts", connection=connection, source_schema=SCHEMA, source_table="accounts",
                    load_type="CDC"),
            job_row(job_name="moves", connection=connection, source_schema=SCHEMA, source_table="moves",
                    load_type="CDC"),
            job_row(job_name="orders", source_schema=pg_schema)]  # a FULL job beside them: a unit of its own


def download_lake(service, container: str, folder: Path) -> SimpleNamespace:
    """The Azurite lake's files under `folder`, as cdc_helpers reads a local lake."""
    client = service.get_container_client(container)
    for blob in client.list_blobs(name_starts_with="raw/"):
        target = folder / blob.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(client.download_blob(blob.name).readall())
    return SimpleNamespace(destination=str(folder), dataset="raw")


def counts(jobs: list[dict]) -> list[tuple]:
    return sorted((j["job_name"], j["status"], j["rows_processed"],
                   *((j["cdc"]["snapshot_rows"], j["cdc"]["inserts"], j["cdc"]["updates"], j["cdc"]["deletes"])
                     if j.get("cdc") else ())) for j in jobs)


@pytest.fixture
def cdc_tables(postgres, monkeypatch):
    sql(postgres, f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE; CREATE SCHEMA {SCHEMA};"
                  f" CREATE TABLE {SCHEMA}.accounts (id int PRIMARY KEY, balance numeric(12,2));"
                  f" CREATE TABLE {SCHEMA}.moves (id int PRIMARY KEY, account_id int, amount numeric(12,2));"
                  f" INSERT INTO {SCHEMA}.accounts SELECT g, 100 FROM generate_series(1, 30) g")
    for connection in ("cdc_az", "cdc_local"):  # one slot each: the two lakes never share one
        monkeypatch.setenv(f"SOURCES__{connection.upper()}__CREDENTIALS", postgres.url())
    yield
    sql(postgres, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots"
                  " WHERE slot_name IN ('ingest_cdc_cdc_az', 'ingest_cdc_cdc_local');"
                  " DROP PUBLICATION IF EXISTS ingest_cdc_cdc_az; DROP PUBLICATION IF EXISTS ingest_cdc_cdc_local")


def change(postgres) -> None:
    sql(postgres, f"BEGIN; UPDATE {SCHEMA}.accounts SET balance = balance - 25 WHERE id = 1;"
                 f" INSERT INTO {SCHEMA}.moves VALUES (1, 1, -25); COMMIT;"
                 f" DELETE FROM {SCHEMA}.accounts WHERE id BETWEEN 20 AND 24;"
                 f" INSERT INTO {SCHEMA}.accounts VALUES (31, 5), (32, 6);"
                 f" UPDATE {SCHEMA}.accounts SET id = 300 WHERE id = 3")


def test_durable_cdc_lands_the_same_changes_as_the_local_run(postgres, pg_schema, app_env, cdc_tables,
                                                            tmp_path, settings):
    service, config_container, suffix = app_env
    create_orders(postgres, pg_schema, 40)
    upload(config_container, write_workbook(tmp_path / "az.xlsx", rows("cdc_az", pg_schema)))
    local_book = write_workbook(tmp_path / "local.xlsx", rows("cdc_local", pg_schema))
    from function_app import app

    def durable(number: int) -> dict:
        driver = DurableDriver(app)
        outcome = driver.run("ingest_run_orchestrator", {"jobs": None}, f"ingest-cdc-{number}")
        cdc_calls = [payload for name, payload in driver.activity_calls if name == "load_cdc_connection"]
        assert [[j["job_name"] for j in p["jobs"]] for p in cdc_calls] == [["accounts", "moves"]]  # one reader
        assert sorted(p["job"]["job_name"] for name, p in driver.activity_calls if name == "load_job") == ["orders"]
        assert outcome.custom_status["jobs_done"] == outcome.custom_status["jobs_total"] == 3
        return outcome.output

    def local() -> dict:
        return run_local(make_plan(read_workbook(local_book), new_run_context()), settings, local_book).to_dict()

    first, first_local = durable(1), local()
    assert first["succeeded"] == 3, [j["error_message"] for j in first["jobs"]]
    assert counts(first["jobs"]) == counts(first_local["jobs"])
    assert {j["job_name"]: j["cdc"]["snapshot_rows"] for j in first["jobs"] if j["cdc"]} == {"accounts": 30, "moves": 0}

    change(postgres)
    second, second_local = durable(2), local()
    assert second["succeeded"] == 3, [j["error_message"] for j in second["jobs"]]
    assert counts(second["jobs"]) == counts(second_local["jobs"])
    by_name = {j["job_name"]: j for j in second["jobs"]}
    assert (by_name["accounts"]["cdc"]["inserts"], by_name["accounts"]["cdc"]["updates"],
            by_name["accounts"]["cdc"]["deletes"]) == (3, 1, 6)
    assert by_name["accounts"]["load_id"] == by_name["moves"]["load_id"]  # one transaction, one load
    assert [s["slot"] for s in second["cdc_slots"]] == ["ingest_cdc_cdc_az"]

    lake = download_lake(service, f"lake{suffix}", tmp_path / "azurite-lake")
    for table in ("accounts", "moves"):
        names, expected = source_rows(postgres, SCHEMA, table)
        assert parquet_current(lake, table, names) == sorted(expected) == parquet_current(settings, table, names)


def test_the_cdc_activity_refuses_jobs_the_workbook_does_not_define_so(postgres, pg_schema, app_env, cdc_tables,
                                                                       tmp_path):
    """Activities re-validate their input (docs/security.md): a CDC unit whose job differs from
    the workbook, or that is not CDC jobs of one connection, is refused whole and reads nothing."""
    from dataclasses import replace

    import psycopg2

    from ingest.drivers.azure import activities, blueprint

    _service, config_container, _suffix = app_env
    upload(config_container, write_workbook(tmp_path / "az.xlsx", rows("cdc_az", pg_schema)))
    config = read_workbook(write_workbook(tmp_path / "same.xlsx", rows("cdc_az", pg_schema)))
    accounts, moves, orders = config.job("accounts"), config.job("moves"), config.job("orders")
    tampered = replace(moves, source_table="accounts", target_table="stolen")
    run = new_run_context().to_dict()
    for jobs, why in (([accounts, tampered], "differs from the workbook's"),
                      ([accounts, orders], "a CDC unit must be load_type CDC jobs of one connection")):
        results = activities.load_cdc_activity({"run": run, "jobs": [j.to_dict() for j in jobs]},
                                               blueprint.settings())
        assert [r["status"] for r in results] == ["failed", "failed"]
        assert all(r["error_class"] == "ConfigError" and why in r["error_message"] for r in results), results
    con = psycopg2.connect(postgres.url())
    try:
        cur = con.cursor()
        cur.execute("SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'ingest_cdc_cdc_az'")
        assert cur.fetchone() == (0,)  # nothing was read: no slot was created
    finally:
        con.close()


def test_a_cdc_activity_that_crashes_every_attempt_fails_each_of_its_jobs(postgres, pg_schema, app_env,
                                                                          cdc_tables, tmp_path):
    """The activity raising stands in for a worker crash (no host can kill one here): Durable
    retries it, then each job of the unit gets its own failed result, and a re-run catches up."""
    service, config_container, suffix = app_env
    create_orders(postgres, pg_schema, 10)
    upload(config_container, write_workbook(tmp_path / "az.xlsx", rows("cdc_az", pg_schema)))
    from function_app import app

    attempts = []

    def crash(name, payload, attempt):
        if name == "load_cdc_connection":
            attempts.append(attempt)
            raise ConnectionResetError("worker lost")
        return None

    outcome = DurableDriver(app, activity_hook=crash).run("ingest_run_orchestrator", {}, "ingest-crash")
    by_name = {j["job_name"]: j for j in outcome.output["jobs"]}
    assert attempts == [1, 2, 3] and by_name["orders"]["status"] == "succeeded"
    for name in ("accounts", "moves"):
        assert by_name[name]["error_class"] == "ActivityFailedError"
        assert by_name[name]["error_message"].endswith("lands the remaining changes, each once")
    again = DurableDriver(app).run("ingest_run_orchestrator", {}, "ingest-again").output
    assert again["succeeded"] == 3
    lake = download_lake(service, f"lake{suffix}", tmp_path / "azurite-lake")
    names, expected = source_rows(postgres, SCHEMA, "accounts")
    assert parquet_current(lake, "accounts", names) == sorted(expected)

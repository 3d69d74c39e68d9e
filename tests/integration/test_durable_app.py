"""The Azure Functions app end to end through the Durable SDK's real replay engine
(tests/durable_driver.py plays the extension: no Functions host can run here), against real
PostgreSQL and Azurite: workbook, lake and audit all in blob storage."""

from __future__ import annotations

import csv
import io
import json

import pytest

from ingest.records.audit import read_audit
from ingest.drivers.azure import blueprint
from ingest.config import read_workbook
from ingest.plan.planner import make_plan, new_run_context
from ingest.drivers.local.runner import run_local
from tests.durable_driver import DurableDriver
from tests.integration.conftest import create_orders, sql
from tests.integration.conftest import app_env  # noqa: F401 (fixture; other modules import it from here)
from tests.workbooks import job_row, write_workbook


def upload(config_container, path) -> None:
    config_container.upload_blob("ingestion_config.xlsx", path.read_bytes(), overwrite=True)


def lake_rows(service, container: str, table: str) -> int:
    import pyarrow.parquet as pq

    client = service.get_container_client(container)
    return sum(pq.read_table(io.BytesIO(client.download_blob(b.name).readall())).num_rows
               for b in client.list_blobs(name_starts_with=f"raw/{table}/"))


def test_durable_run_equals_the_local_runner(postgres, pg_schema, app_env, tmp_path, settings):
    service, config_container, suffix = app_env
    create_orders(postgres, pg_schema, 400)
    create_orders(postgres, pg_schema, 50, table="customers")
    rows = [job_row(source_schema=pg_schema, load_type="INCREMENTAL", watermark_column="updated_at"),
            job_row(job_name="customers", source_schema=pg_schema, source_table="customers"),
            job_row(job_name="missing", source_schema=pg_schema, source_table="nope"),
            job_row(job_name="typo", load_type="SOMETIMES", source_table="t")]
    book = write_workbook(tmp_path / "w.xlsx", rows)
    upload(config_container, book)
    from function_app import app

    outcome = DurableDriver(app).run("ingest_run_orchestrator", {"jobs": None}, "ingest-all")
    summary = outcome.output
    assert outcome.custom_status["jobs_done"] == outcome.custom_status["jobs_total"] == 3
    by_name = {j["job_name"]: j for j in summary["jobs"]}
    assert by_name["orders"]["rows_processed"] == 400 and by_name["customers"]["rows_processed"] == 50
    assert by_name["missing"]["error_class"] == "SourceObjectNotFoundError"
    assert by_name["typo"]["status"] == "invalid"
    assert (summary["succeeded"], summary["failed"]) == (2, 2)
    assert lake_rows(service, f"lake{suffix}", "orders") == 400

    # the same workbook through the local runner gives the same results
    local_book = write_workbook(tmp_path / "local.xlsx", rows)
    config = read_workbook(local_book)
    local = run_local(make_plan(config, new_run_context()), settings, local_book)
    strip = lambda jobs: sorted((j["job_name"], j["status"], j["rows_processed"], j["error_class"],
                                 j["watermark_after"]) for j in jobs)
    assert strip(local.to_dict()["jobs"]) == strip(summary["jobs"])

    # audit rows in blob storage equal the local audit rows but for ids and times
    audit = service.get_container_client(f"audit{suffix}")
    (csv_blob,) = [b.name for b in audit.list_blobs(name_starts_with="audit_trail/")]
    blob_rows = list(csv.DictReader(io.StringIO(audit.download_blob(csv_blob).readall().decode())))
    keep = ("job_name", "status", "rows_processed", "watermark_after", "error_class")
    assert sorted(tuple(r[k] for k in keep) for r in blob_rows) == \
        sorted(tuple(r[k] for k in keep) for r in read_audit(settings.audit_dir))
    assert json.loads(audit.download_blob(f"runs/{summary['run_id']}.json").readall())["succeeded"] == 2

    # the watermark was written back to the workbook blob
    written = read_workbook(config_container.download_blob("ingestion_config.xlsx").readall())
    assert written.job("orders").last_watermark == by_name["orders"]["watermark_after"]


def test_second_run_loads_only_changes_and_replay_is_deterministic(postgres, pg_schema, app_env, tmp_path):
    service, config_container, suffix = app_env
    create_orders(postgres, pg_schema, 100)
    upload(config_container, write_workbook(tmp_path / "w.xlsx", [job_row(
        source_schema=pg_schema, load_type="INCREMENTAL", watermark_column="updated_at")]))
    from function_app import app

    driver = DurableDriver(app)
    first = driver.run("ingest_run_orchestrator", {}, "ingest-all")
    sql(postgres, f"UPDATE {pg_schema}.orders SET updated_at = updated_at + interval '1 day' WHERE id <= 4")
    second = driver.run("ingest_run_orchestrator", {}, "ingest-all")
    assert [first.output["jobs"][0]["rows_processed"], second.output["jobs"][0]["rows_processed"]] == [100, 4]
    assert first.output["run_id"] != second.output["run_id"]
    assert lake_rows(service, f"lake{suffix}", "orders") == 104

    # replaying the finished history yields the same actions and output, and runs nothing
    calls = len(driver.activity_calls)
    again = driver.replay("ingest_run_orchestrator", second.history, "ingest-all", {})
    assert again["actions"] == second.states[-1]["actions"] and again["output"] == second.output
    assert len(driver.activity_calls) == calls


def test_a_crashing_activity_is_retried_then_reported_beside_good_jobs(postgres, pg_schema, app_env, tmp_path):
    _service, config_container, _suffix = app_env
    create_orders(postgres, pg_schema, 30)
    create_orders(postgres, pg_schema, 20, table="flaky")
    create_orders(postgres, pg_schema, 10, table="dead")
    upload(config_container, write_workbook(tmp_path / "w.xlsx", [
        job_row(source_schema=pg_schema),
        job_row(job_name="flaky", source_schema=pg_schema, source_table="flaky"),
        job_row(job_name="dead", source_schema=pg_schema, source_table="dead")]))
    from function_app import app

    attempts: dict[str, int] = {}

    def crash(name, payload, attempt):
        """Simulates a worker crash (the activity raising), as no host can kill one here."""
        if name == "load_job":
            job = payload["job"]["job_name"]
            attempts[job] = attempt
            if job == "dead" or (job == "flaky" and attempt == 1):
                raise ConnectionResetError("worker lost")
        return None

    outcome = DurableDriver(app, activity_hook=crash).run("ingest_run_orchestrator", {}, "ingest-all")
    by_name = {j["job_name"]: j for j in outcome.output["jobs"]}
    assert attempts == {"orders": 1, "flaky": 2, "dead": 3}
    assert by_name["orders"]["status"] == "succeeded" and by_name["flaky"]["rows_processed"] == 20
    assert by_name["dead"]["error_class"] == "ActivityFailedError"
    assert "after 3 attempt(s)" in by_name["dead"]["error_message"]
    assert by_name["dead"]["error_message"].endswith("the next run loads the whole table again")  # a FULL job
    assert outcome.output["failed"] == 1


def test_job_filter_reaches_the_plan(postgres, pg_schema, app_env, tmp_path):
    _service, config_container, _suffix = app_env
    create_orders(postgres, pg_schema, 5)
    create_orders(postgres, pg_schema, 5, table="other")
    upload(config_container, write_workbook(tmp_path / "w.xlsx", [
        job_row(source_schema=pg_schema), job_row(job_name="other", source_schema=pg_schema, source_table="other")]))
    from function_app import app

    outcome = DurableDriver(app).run("ingest_run_orchestrator", {"jobs": ["oth*"]}, "ingest-jobs-x")
    assert [j["job_name"] for j in outcome.output["jobs"]] == ["other"]
    assert outcome.output["skipped"] == {"orders": "not selected"}


def test_watermark_writeback_survives_a_concurrent_save(postgres, pg_schema, app_env, tmp_path, monkeypatch):
    """A person saves the workbook between our read and our write: Azurite answers 412 to the
    conditional upload, the write-back re-reads, keeps their edit and still writes ours."""
    _service, config_container, _suffix = app_env
    create_orders(postgres, pg_schema, 10)
    create_orders(postgres, pg_schema, 10, table="other")
    rows = [job_row(source_schema=pg_schema, load_type="INCREMENTAL", watermark_column="updated_at"),
            job_row(job_name="other", source_schema=pg_schema, source_table="other")]
    upload(config_container, write_workbook(tmp_path / "w.xlsx", rows))
    edited = write_workbook(tmp_path / "edited.xlsx", [rows[0], {**rows[1], "enabled": "N"}])

    from ingest.config import workbook_blob as storage

    real_apply = storage.apply_watermarks
    calls = []

    def apply_then_someone_saves(data, updates):
        calls.append(1)
        result = real_apply(data, updates)
        if len(calls) == 1:
            upload(config_container, edited)
        return result

    monkeypatch.setattr(storage, "apply_watermarks", apply_then_someone_saves)
    from function_app import app

    outcome = DurableDriver(app).run("ingest_run_orchestrator", {}, "ingest-all")
    assert len(calls) == 2 and outcome.output["watermark_conflicts"] == []
    final = read_workbook(config_container.download_blob("ingestion_config.xlsx").readall())
    assert final.job("other").enabled is False  # their edit kept
    assert final.job("orders").last_watermark == outcome.output["jobs"][0]["watermark_after"]  # ours written


def test_redelivered_activities_duplicate_nothing(postgres, pg_schema, app_env, tmp_path):
    """Durable may deliver an activity twice: loading and finalizing again must not duplicate
    lake rows or audit rows."""
    service, config_container, suffix = app_env
    create_orders(postgres, pg_schema, 60)
    create_orders(postgres, pg_schema, 15, table="snap")
    upload(config_container, write_workbook(tmp_path / "w.xlsx", [
        job_row(source_schema=pg_schema, load_type="INCREMENTAL", watermark_column="updated_at"),
        job_row(job_name="snap", source_schema=pg_schema, source_table="snap")]))
    from function_app import app

    driver = DurableDriver(app)
    first = driver.run("ingest_run_orchestrator", {}, "ingest-all")
    loads = [payload for name, payload in driver.activity_calls if name == "load_job"]
    finalize = next(payload for name, payload in driver.activity_calls if name == "finalize_run")
    for payload in loads:
        driver.run_activity("load_job", payload, attempt=2)
    driver.run_activity("finalize_run", finalize, attempt=2)
    assert lake_rows(service, f"lake{suffix}", "orders") == 60
    assert lake_rows(service, f"lake{suffix}", "snap") == 15
    audit = service.get_container_client(f"audit{suffix}")
    (csv_blob,) = [b.name for b in audit.list_blobs(name_starts_with="audit_trail/")]
    audit_rows = list(csv.DictReader(io.StringIO(audit.download_blob(csv_blob).readall().decode())))
    assert sorted(r["job_name"] for r in audit_rows) == ["orders", "snap"]
    assert first.output["watermark_conflicts"] == []


def test_blob_lease_lock_refuses_a_second_holder(app_env):
    """Job locks on Azure are blob leases (real leases on Azurite)."""
    from ingest.records.blob_sink import audit_container
    from ingest.core.errors import JobLockedError
    from ingest.lake.locks import BlobLeaseJobLock

    lock = BlobLeaseJobLock(audit_container(blueprint.settings()), duration_s=15, renew_every_s=5)
    with lock.hold("orders", holder="run 20240101T000000Z-abc since 2024-01-01T00:00:00+00:00"):
        with pytest.raises(JobLockedError, match=r"already loading \(run 20240101T000000Z-abc since 2024-01-01"):
            with lock.hold("orders"):
                pass
        with lock.hold("customers"):  # other jobs are not blocked
            pass
    with lock.hold("orders"):  # released
        pass


def test_a_workbook_blob_over_the_size_cap_is_refused_before_download(app_env):
    """The blob's size is asked first: an oversized blob is never read into memory (issue 21,
    finding 6). Azurite, a real 21 MB blob."""
    from ingest.config.workbook_blob import read_workbook_blob
    from ingest.core.errors import WorkbookError
    from ingest.core.settings import Settings

    _, config_container, _ = app_env
    config_container.upload_blob("ingestion_config.xlsx", b"\0" * (21 * 1024 * 1024), overwrite=True)
    with pytest.raises(WorkbookError, match="larger than 20 MB .*not downloaded"):
        read_workbook_blob(Settings.from_env())


def test_the_load_activity_runs_the_job_as_the_workbook_defines_it_not_as_it_is_given(
        postgres, pg_schema, app_env, tmp_path):
    """An activity input that is not the app's own (a job the workbook lacks, or a job whose
    table or filter was changed) is refused, nothing loaded: activities re-validate what they
    are given (issue 21, finding 3). Before, load_job ran any job payload it received."""
    service, config_container, suffix = app_env
    create_orders(postgres, pg_schema, 10)
    create_orders(postgres, pg_schema, 7, table="secret_table")
    upload(config_container, write_workbook(tmp_path / "w.xlsx", [job_row(source_schema=pg_schema)]))
    from function_app import app

    driver = DurableDriver(app)
    driver.run("ingest_run_orchestrator", {}, "ingest-all")
    (payload,) = [p for name, p in driver.activity_calls if name == "load_job"]
    widened = {**payload, "job": {**payload["job"], "source_table": "secret_table", "target_table": "stolen"}}
    unknown = {**payload, "job": {**payload["job"], "job_name": "ghost", "target_table": "ghost"}}
    for forged, expected in ((widened, "differs from the workbook's row 2"), (unknown, "not a valid job")):
        result = driver.run_activity("load_job", forged, attempt=1)
        assert result["status"] == "failed" and result["error_class"] == "ConfigError", result
        assert expected in result["error_message"]
    assert lake_rows(service, f"lake{suffix}", "stolen") == 0 and lake_rows(service, f"lake{suffix}", "ghost") == 0
    assert driver.run_activity("load_job", payload, attempt=2)["status"] == "succeeded"  # the app's own input still loads


def test_an_identity_scoped_to_the_audit_container_can_use_it(app_env):
    """With roles scoped to containers (infra/modules/roles, issue 21 finding 7) the app may not
    create containers: Azurite answers a container SAS's create with a real 403, which must not
    stop the app from using the container infra made."""
    from datetime import datetime, timedelta, timezone

    from azure.storage.blob import ContainerClient, ContainerSasPermissions, generate_container_sas

    from ingest.records.blob_sink import existing_container
    from tests.services import AZURITE_ACCOUNT, AZURITE_KEY

    service, _, suffix = app_env
    name = f"scoped{suffix}"
    service.create_container(name)
    sas = generate_container_sas(AZURITE_ACCOUNT, name, account_key=AZURITE_KEY,
                                 permission=ContainerSasPermissions(read=True, write=True, list=True),
                                 expiry=datetime.now(timezone.utc) + timedelta(hours=1))
    scoped = ContainerClient.from_container_url(f"{service.url.rstrip('/')}/{name}?{sas}")
    container = existing_container(scoped)
    container.upload_blob("runs/r1.json", b"{}")
    assert [b.name for b in container.list_blobs()] == ["runs/r1.json"]

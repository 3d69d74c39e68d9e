"""Alert mails from the Durable app's finalize step: the orchestrator runs through the SDK's
replay engine (tests/durable_driver.py: no Functions host can run here), against real
PostgreSQL, Azurite (workbook, lake, audit and the once-only markers) and a real SMTP server on
127.0.0.1. The timer's run is the scheduled path that sends the daily summary."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from ingest.azure import blueprint
from tests.durable_driver import DurableDriver
from tests.integration.conftest import create_orders
from tests.integration.test_durable_app import app_env, upload  # noqa: F401  (app_env is a fixture)
from tests.mailserver import start_mail_server
from tests.services import free_port
from tests.workbooks import job_row, write_workbook

TEAM = "ops@example.com"
MONDAY_6AM = datetime(2026, 1, 5, 6, 0, tzinfo=timezone.utc)


@pytest.fixture
def mail_server():
    server = start_mail_server()
    yield server
    server.stop()


def mail_settings(monkeypatch, port: int) -> None:
    for key, value in {"INGEST_SMTP_HOST": "127.0.0.1", "INGEST_SMTP_PORT": str(port), "INGEST_SMTP_SECURITY": "none",
                       "INGEST_ALERT_FROM": "ingest@example.com", "INGEST_ALERT_TO": TEAM,
                       "INGEST_ENVIRONMENT": "azure"}.items():
        monkeypatch.setenv(key, value)
    blueprint.settings.cache_clear()


def two_jobs_one_failing(postgres, pg_schema, config_container, tmp_path) -> None:
    create_orders(postgres, pg_schema, 25)
    upload(config_container, write_workbook(tmp_path / "w.xlsx", [
        job_row(source_schema=pg_schema),
        job_row(job_name="missing", source_schema=pg_schema, source_table="nope", target_table="m",
                alert_recipients="sales@example.com")]))


def test_timer_run_mails_failures_and_the_daily_summary_once_a_day(
        postgres, pg_schema, app_env, tmp_path, monkeypatch, mail_server):  # noqa: F811
    service, config_container, suffix = app_env
    two_jobs_one_failing(postgres, pg_schema, config_container, tmp_path)
    mail_settings(monkeypatch, mail_server.port)
    from function_app import app

    mailbox = mail_server.mailbox
    driver = DurableDriver(app, start=MONDAY_6AM)
    first = driver.run("ingest_run_orchestrator", {"jobs": None, "trigger": "timer"}, "ingest-all").output
    run_id = first["run_id"]
    assert (first["succeeded"], first["failed"]) == (1, 1)
    assert [(a["kind"], a["status"], a["recipients"]) for a in first["alerts"]] == [
        ("failure", "sent", [TEAM]), ("failure", "sent", ["sales@example.com"]), ("daily_summary", "sent", [TEAM])]
    team_failure, sales_failure, daily = mailbox.mails
    assert team_failure.subject == f"[ingest azure] 1 of 2 jobs failed, run {run_id}"
    assert "SourceObjectNotFoundError" in team_failure.html and "orders: succeeded, 25 rows" in team_failure.text
    assert sales_failure.message["To"] == "sales@example.com" and "orders" not in sales_failure.text
    assert daily.subject == "[ingest azure] daily summary 2026-01-05: 1 run, 1 job loads ok, 1 failed"

    audit = service.get_container_client(f"audit{suffix}")
    assert {b.name for b in audit.list_blobs(name_starts_with="alerts/")} == {
        f"alerts/failure/{run_id}.json", "alerts/daily_summary/2026-01-05.json"}
    assert json.loads(audit.download_blob(f"runs/{run_id}.json").readall())["alerts"] == first["alerts"]

    # a second timer run the same day: its failure mail, but no second summary
    second = driver.run("ingest_run_orchestrator", {"jobs": None, "trigger": "timer"}, "ingest-all").output
    assert [(a["kind"], a["status"]) for a in second["alerts"]] == [
        ("failure", "sent"), ("failure", "sent"), ("daily_summary", "skipped")]
    assert second["alerts"][2]["detail"] == "already sent for 2026-01-05"
    # an HTTP-started run is not the scheduled path: no summary considered at all
    third = driver.run("ingest_run_orchestrator", {"jobs": None, "trigger": "http"}, "ingest-all").output
    assert [a["kind"] for a in third["alerts"]] == ["failure", "failure"]
    assert len(mailbox.mails) == 7 and sum("daily summary" in m.subject for m in mailbox.mails) == 1

    # Durable re-delivers the finalize activity: no second failure mail for that run
    finalize = [payload for name, payload in driver.activity_calls if name == "finalize_run"][-1]
    again = driver.run_activity("finalize_run", finalize, attempt=2)
    assert [(a["kind"], a["status"], a["detail"]) for a in again["alerts"]] == [
        ("failure", "skipped", "already sent for this run")]
    assert len(mailbox.mails) == 7


def test_durable_finalize_with_smtp_down_completes_and_records_the_failed_sends(
        postgres, pg_schema, app_env, tmp_path, monkeypatch):  # noqa: F811
    service, config_container, suffix = app_env
    two_jobs_one_failing(postgres, pg_schema, config_container, tmp_path)
    mail_settings(monkeypatch, free_port())  # nothing listens there
    from function_app import app

    outcome = DurableDriver(app, start=MONDAY_6AM).run("ingest_run_orchestrator", {"trigger": "timer"}, "ingest-all")
    summary = outcome.output
    assert outcome.custom_status["jobs_done"] == 2 and (summary["succeeded"], summary["failed"]) == (1, 1)
    assert [(a["kind"], a["status"], a["error_class"]) for a in summary["alerts"]] == [
        ("failure", "failed", "AlertServerUnavailableError"), ("failure", "failed", "AlertServerUnavailableError"),
        ("daily_summary", "failed", "AlertServerUnavailableError")]
    audit = service.get_container_client(f"audit{suffix}")
    assert json.loads(audit.download_blob(f"runs/{summary['run_id']}.json").readall())["alerts"] == summary["alerts"]
    # nothing was sent, so nothing is marked: the next timer run of the day tries again
    assert [b.name for b in audit.list_blobs(name_starts_with="alerts/")] == []

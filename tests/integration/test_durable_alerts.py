"""Alert mails from the Durable app's finalize step: the orchestrator runs through the SDK's
replay engine (tests/durable_driver.py: no Functions host can run here), against real
PostgreSQL, Azurite (workbook, lake, audit and the once-only markers) and a real SMTP server on
127.0.0.1. The timer's run is the scheduled path that sends the daily summary."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from ingest.drivers.azure import blueprint
from tests.durable_driver import DurableDriver
from tests.integration.conftest import create_orders
from tests.integration.test_durable_app import app_env, upload  # noqa: F401  (app_env is a fixture)
from tests.mailserver import make_certificates, start_mail_server
from tests.services import free_port
from tests.workbooks import job_row, write_workbook

TEAM = "ops@example.com"
MONDAY_6AM = datetime(2026, 1, 5, 6, 0, tzinfo=timezone.utc)


def mail_settings(monkeypatch, port: int, **extra: str) -> None:
    """App settings as on Azure; the SMTP login would be Key Vault references in app settings."""
    for key, value in {"INGEST_SMTP_HOST": "127.0.0.1", "INGEST_SMTP_PORT": str(port), "INGEST_SMTP_SECURITY": "none",
                       "INGEST_ALERT_FROM": "ingest@example.com", "INGEST_ALERT_TO": TEAM,
                       "INGEST_ENVIRONMENT": "azure", **extra}.items():
        monkeypatch.setenv(key, value)
    blueprint.settings.cache_clear()


def two_jobs_one_failing(postgres, pg_schema, config_container, tmp_path, extra_rows=()) -> None:
    create_orders(postgres, pg_schema, 25)
    upload(config_container, write_workbook(tmp_path / "w.xlsx", [
        job_row(source_schema=pg_schema),
        job_row(job_name="missing", source_schema=pg_schema, source_table="nope", target_table="m",
                alert_recipients="sales@example.com"), *extra_rows]))


def test_timer_run_mails_failures_and_the_daily_summary_once_a_day(
        postgres, pg_schema, app_env, tmp_path, monkeypatch):  # noqa: F811
    service, config_container, suffix = app_env
    smtp_password, source_password = "Smtp-Canary-Durable-6120", "Source-Canary-Durable-2291"
    monkeypatch.setenv("SOURCES__PGBAD__CREDENTIALS", postgres.url(password=source_password))
    two_jobs_one_failing(postgres, pg_schema, config_container, tmp_path, extra_rows=[
        job_row(job_name="bad_login", connection="pgbad", source_schema=pg_schema, target_table="b")])
    certificates = make_certificates(tmp_path / "certs")
    server = start_mail_server("starttls", ("ingest-alerts", smtp_password), certificates)
    mail_settings(monkeypatch, server.port, INGEST_SMTP_SECURITY="starttls", INGEST_SMTP_CA_FILE=str(certificates.ca_file),
                  ALERTS__SMTP__USER="ingest-alerts", ALERTS__SMTP__PASSWORD=smtp_password)
    from function_app import app

    mailbox = server.mailbox
    driver = DurableDriver(app, start=MONDAY_6AM)
    try:
        first = driver.run("ingest_run_orchestrator", {"jobs": None, "trigger": "timer"}, "ingest-all").output
        second = driver.run("ingest_run_orchestrator", {"jobs": None, "trigger": "timer"}, "ingest-all").output
        third = driver.run("ingest_run_orchestrator", {"jobs": None, "trigger": "http"}, "ingest-all").output
        finalize = [payload for name, payload in driver.activity_calls if name == "finalize_run"][-1]
        again = driver.run_activity("finalize_run", finalize, attempt=2)  # Durable re-delivers an activity
    finally:
        server.stop()
    run_id = first["run_id"]
    assert (first["succeeded"], first["failed"]) == (1, 2)
    assert mailbox.logins and set(mailbox.logins) == {"ingest-alerts"}
    assert [(a["kind"], a["status"], a["recipients"]) for a in first["alerts"]] == [
        ("failure", "sent", [TEAM]), ("failure", "sent", ["sales@example.com"]), ("daily_summary", "sent", [TEAM])]
    team_failure, sales_failure, daily = mailbox.mails[:3]
    assert team_failure.subject == f"[ingest azure] 2 of 3 jobs failed, run {run_id}"
    assert "SourceObjectNotFoundError" in team_failure.html and "orders: succeeded, 25 rows" in team_failure.text
    assert sales_failure.message["To"] == "sales@example.com" and "orders" not in sales_failure.text
    assert daily.subject == "[ingest azure] daily summary 2026-01-05: 1 run, 1 job loads ok, 2 failed"

    audit = service.get_container_client(f"audit{suffix}")
    assert {b.name for b in audit.list_blobs(name_starts_with="alerts/")} == {
        "alerts/daily_summary/2026-01-05.json", *(f"alerts/failure/{r['run_id']}.json" for r in (first, second, third))}
    assert json.loads(audit.download_blob(f"runs/{run_id}.json").readall())["alerts"] == first["alerts"]

    # a second timer run the same day: its failure mail, but no second summary
    assert [(a["kind"], a["status"]) for a in second["alerts"]] == [
        ("failure", "sent"), ("failure", "sent"), ("daily_summary", "skipped")]
    assert second["alerts"][2]["detail"] == "already sent for 2026-01-05"
    # an HTTP-started run is not the scheduled path: no summary considered at all
    assert [a["kind"] for a in third["alerts"]] == ["failure", "failure"]
    assert len(mailbox.mails) == 7 and sum("daily summary" in m.subject for m in mailbox.mails) == 1
    # the re-delivered finalize of the third run sent no second failure mail
    assert [(a["kind"], a["status"], a["detail"]) for a in again["alerts"]] == [
        ("failure", "skipped", "already sent for this run")]
    # no secret in any mail or stored summary
    stored = "".join(audit.download_blob(b.name).readall().decode() for b in audit.list_blobs(name_starts_with="runs/"))
    for secret in (smtp_password, source_password):
        assert secret not in "".join(m.raw for m in mailbox.mails) + stored


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

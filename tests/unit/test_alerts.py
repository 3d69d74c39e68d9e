"""Alert mails without a server: what the mails say (escaped, redacted), the daily
aggregation, the alert settings and workbook column, the once-only markers, and how SMTP
errors are classified. Sending over a real SMTP server is in tests/integration/test_alerts.py."""

from __future__ import annotations

import smtplib
import socket
from datetime import datetime, timedelta, timezone

import pytest
from openpyxl.utils import get_column_letter

from ingest.alerts.model import FailureReport, daily_report, needs_failure_mail
from ingest.alerts.render import render_daily, render_failure
from ingest.alerts.store import FileAlertStore, run_id_prefixes
from ingest.drivers.azure.activities import run_id_for
from ingest.core.classify import classify_mail_error
from ingest.config import read_workbook
from ingest.config.model import JobConfig
from ingest.core.errors import AlertDeliveryError, AlertServerUnavailableError, SettingError
from ingest.plan.planner import new_run_context
from ingest.core.redact import register_secret
from ingest.core.settings import Settings
from tests.workbooks import HEADER, job_row, write_workbook

T0 = datetime(2026, 1, 5, 6, 0, tzinfo=timezone.utc)


def job(name: str, status: str = "succeeded", rows: int = 10, error_class: str | None = None,
        message: str | None = None, duration: float = 1.5) -> dict:
    return {"job_name": name, "status": status, "rows_processed": rows, "duration_s": duration,
            "error_class": error_class, "error_message": message, "started_at": T0.isoformat()}


def run_summary(run_id: str, started: datetime, jobs: list[dict], **extra) -> dict:
    return {"run_id": run_id, "started_at": started.isoformat(), "finished_at": (started + timedelta(minutes=3)).isoformat(),
            "jobs": jobs, "config_errors": [], "watermark_conflicts": [], **extra}


def test_failure_mail_lists_every_job_failed_first_with_html_escaped():
    summary = run_summary("20260105T060000Z-a1", T0, [
        job("orders", rows=1234567, duration=75.2),
        job("customers", "failed", 0, "SourceObjectNotFoundError", 'table <b>x</b> & "y" does not exist'),
        job("typo", "invalid", 0, "ConfigError", "jobs!H4: load_type 'SOMETIMES' is not one of FULL, INCREMENTAL, CDC")],
        config_errors=["jobs!H4: load_type 'SOMETIMES' is not one of FULL, INCREMENTAL, CDC"])
    assert needs_failure_mail(summary)
    mail = render_failure(FailureReport.from_summary(summary, "prod"))
    assert mail.subject == "[ingest prod] 2 of 3 jobs failed, run 20260105T060000Z-a1"
    for header in ("job", "status", "rows", "duration", "error class", "message"):
        assert f">{header}</th>" in mail.html
    assert "table &lt;b&gt;x&lt;/b&gt; &amp; &#34;y&#34; does not exist" in mail.html
    assert "<b>x</b>" not in mail.html
    assert mail.html.index("customers") < mail.html.index("typo") < mail.html.index(">orders<")
    assert "1,234,567" in mail.html and "1 m 15 s" in mail.html
    assert "jobs!H4: load_type" in mail.html  # the workbook errors section
    # the plain-text part says the same
    assert "customers: failed, 0 rows, 1.5 s" in mail.text and "typo: invalid\n" in mail.text
    assert 'SourceObjectNotFoundError: table <b>x</b> & "y" does not exist' in mail.text
    assert "orders: succeeded, 1,234,567 rows, 1 m 15 s" in mail.text


def test_a_run_that_succeeded_needs_no_failure_mail_but_workbook_errors_do():
    assert not needs_failure_mail(run_summary("r", T0, [job("a"), job("b")]))
    only_errors = run_summary("r", T0, [job("a")], config_errors=["jobs!1:1: missing required column(s): enabled"])
    assert needs_failure_mail(only_errors)
    assert "the workbook has errors" in render_failure(FailureReport.from_summary(only_errors, "")).subject


def test_a_job_recipient_sees_only_their_jobs():
    summary = run_summary("r1", T0, [job("a", "failed", 0, "X", "boom"), job("b", "failed", 0, "Y", "bang"), job("c")],
                          config_errors=["jobs!B9: enabled '?' is not Y or N"])
    report = FailureReport.from_summary(summary, "", only_jobs={"b"})
    assert [line.job_name for line in report.jobs] == ["b"] and report.config_errors == []
    mail = render_failure(report)
    assert "1 of 1 job failed" in mail.subject and "alert_recipients" in mail.text and "boom" not in mail.html


def test_no_secret_reaches_subject_text_or_html():
    canary = "Mail-Canary-Secret-8841"
    register_secret(canary)
    summary = run_summary(f"run-{canary}", T0, [
        job("orders", "failed", 0, "SourceAuthenticationError",
            f"connect postgresql://bob:{canary}@db:5432/x failed; password={canary}")],
        config_errors=[f"jobs!K2: {canary}"], findings=[{"kind": "quality", "job_name": "orders", "message": canary}])
    mails = [render_failure(FailureReport.from_summary(summary, canary)),
             render_daily(daily_report([summary], canary, "2026-01-05", T0 - timedelta(days=1), T0))]
    for mail in mails:
        for part in (mail.subject, mail.text, mail.html):
            assert canary not in part
            assert "***" in part


def test_daily_report_aggregates_the_runs_and_lists_findings_once():
    first = run_summary("r1", T0, [job("orders", rows=100), job("customers", "failed", 0, "TransientSourceError", "timeout")],
                        config_errors=["jobs!H4: bad"])
    second = run_summary("r2", T0 + timedelta(hours=1), [job("orders", rows=5), job("customers", rows=7)],
                         config_errors=["jobs!H4: bad"], watermark_conflicts=["jobs!K2: changed since the run started"],
                         validation_warnings=["orders: row count mismatch: source has 7 rows for the window, 5 loaded"],
                         findings=[{"kind": "drift", "job_name": "orders", "message": "new column discount"},
                                   {"kind": "quality", "job_name": "customers", "message": "email not null: 3 rows"}],
                         alerts=[{"kind": "failure", "status": "failed", "error_class": "AlertServerUnavailableError",
                                  "error_message": "the mail server could not be reached"}])
    report = daily_report([second, first], "test", "2026-01-05", T0 - timedelta(hours=23), T0 + timedelta(hours=1))
    by_name = {j.job_name: j for j in report.jobs}
    assert report.runs == 2 and (report.succeeded, report.failed, report.rows) == (3, 1, 112)
    assert (by_name["orders"].runs, by_name["orders"].rows) == (2, 105)
    assert (by_name["customers"].succeeded, by_name["customers"].failed, by_name["customers"].last_status) == (1, 1, "succeeded")
    assert [j.job_name for j in report.jobs] == ["customers", "orders"]  # jobs that failed first
    assert list(report.findings) == ["validation", "drift", "quality", "rowcount", "watermark", "alert delivery"]
    assert [(f.message, f.run_id) for f in report.findings["validation"]] == [("jobs!H4: bad", "r2")]
    mail = render_daily(report)
    assert mail.subject == "[ingest test] daily summary 2026-01-05: 2 runs, 3 job loads ok, 1 failed, 6 findings"
    for text in ("new column discount", "email not null: 3 rows", "changed since the run started", "5 loaded",
                 "failure mail: AlertServerUnavailableError"):
        assert text in mail.html and text in mail.text


def test_alert_settings_are_read_and_bad_values_named():
    env = {"INGEST_SMTP_HOST": "smtp.example.com", "INGEST_SMTP_SECURITY": "SSL",
           "INGEST_ALERT_FROM": "ingest@example.com", "INGEST_ALERT_TO": "ops@example.com; dba@example.com, OPS@example.com",
           "INGEST_ALERT_SUMMARY_HOUR": "7", "INGEST_ENVIRONMENT": "prod"}
    settings = Settings.from_env(env)
    assert (settings.smtp_port, settings.smtp_security) == (465, "ssl")
    assert settings.alert_to == ("ops@example.com", "dba@example.com")
    assert (settings.alert_summary_hour, settings.environment) == (7, "prod")
    assert Settings.from_env({**env, "INGEST_SMTP_SECURITY": ""}).smtp_port == 587
    assert Settings.from_env({}).smtp_host is None  # no host: no mail
    for change, expected in [({"INGEST_ALERT_TO": "ops@example.com, bob@"}, "INGEST_ALERT_TO: 'bob@' is not a mail address"),
                             ({"INGEST_ALERT_TO": "ops@example.com\r\nBcc: x@evil.org"}, "INGEST_ALERT_TO"),
                             ({"INGEST_ALERT_FROM": ""}, "set INGEST_ALERT_FROM"),
                             ({"INGEST_SMTP_SECURITY": "tls"}, "INGEST_SMTP_SECURITY='tls' is not one of starttls, ssl, none"),
                             ({"INGEST_SMTP_PORT": "smtp"}, "INGEST_SMTP_PORT='smtp' is not a whole number"),
                             ({"INGEST_ALERT_SUMMARY_HOUR": "24"}, "INGEST_ALERT_SUMMARY_HOUR=24 must be an hour"),
                             ({"INGEST_SMTP_CA_FILE": "/nonexistent/ca.pem"}, "INGEST_SMTP_CA_FILE: no such file")]:
        with pytest.raises(SettingError, match=expected.replace("(", r"\(")):
            Settings.from_env({**env, **change})


def test_alert_recipients_column_is_validated_with_its_cell(tmp_path):
    config = read_workbook(write_workbook(tmp_path / "w.xlsx", [
        job_row(alert_recipients="sales@example.com; Dba@Example.com"),
        job_row(job_name="b", source_table="b", alert_recipients="sales@example.com, not-an-address")]))
    assert config.jobs[0].alert_recipients == ("sales@example.com", "Dba@Example.com")
    column = get_column_letter(HEADER.index("alert_recipients") + 1)
    assert [str(e) for e in config.errors] == [
        f"jobs!{column}3: alert_recipients: 'not-an-address' is not a mail address (name@domain)"]
    assert JobConfig.from_dict(config.jobs[0].to_dict()) == config.jobs[0]  # survives the Durable JSON hop
    without = read_workbook(write_workbook(tmp_path / "old.xlsx", [job_row()],  # a workbook without the column
                                           header=[h for h in HEADER if h != "alert_recipients"]))
    assert without.errors == [] and without.jobs[0].alert_recipients == ()


def test_file_store_claims_a_marker_once_and_reads_the_runs_of_the_period(tmp_path):
    store = FileAlertStore(tmp_path)
    assert store.claim("daily_summary/2026-01-05", {"run_id": "a"}) is True
    assert store.claim("daily_summary/2026-01-05", {"run_id": "b"}) is False
    store.release("daily_summary/2026-01-05")
    assert store.claim("daily_summary/2026-01-05", {"run_id": "c"}) is True

    from ingest.records.audit import write_run_summary

    for hours in (-30, -20, -1, 0, 2):
        start = T0 + timedelta(hours=hours)
        write_run_summary(tmp_path, f"{start:%Y%m%dT%H%M%SZ}-x", run_summary(f"{start:%H}", start, []))
    found = store.run_summaries(T0 - timedelta(hours=24), T0)
    assert sorted(s["run_id"] for s in found) == ["05", "06", "10"]  # -20h, -1h and 0h


def test_every_mail_kind_is_sent_once_and_retried_only_when_nothing_went_out(tmp_path):
    """ingest/alerts/delivery.py send_once, the sequence of the failure mail, the daily summary
    and the CDC lag mail, on the real file store."""
    from ingest.alerts.delivery import send_once
    from ingest.alerts.model import AlertOutcome

    store, sent = FileAlertStore(tmp_path), []

    def mail(status: str):
        def send():
            sent.append(status)
            return [AlertOutcome("cdc_lag", status)]
        return send

    def once(send):
        return send_once(store, "cdc_lag/r1", "r1", "cdc_lag", "already sent for this run", send)

    assert [o.status for o in once(mail("failed"))] == ["failed"]  # released: a later finalize retries
    assert [o.status for o in once(mail("sent"))] == ["sent"]
    skipped = once(mail("sent"))
    assert [(o.status, o.detail) for o in skipped] == [("skipped", "already sent for this run")]
    assert sent == ["failed", "sent"]

    def broken():
        raise RuntimeError("template")

    with pytest.raises(RuntimeError):
        send_once(store, "failure/r2", "r2", "failure", "x", broken)
    assert store.claim("failure/r2", {"run_id": "r2"}) is True  # released when sending raised
    partly = lambda: [AlertOutcome("failure", "failed"), AlertOutcome("failure", "sent")]  # noqa: E731
    assert len(send_once(store, "failure/r3", "r3", "failure", "x", partly)) == 2
    assert store.claim("failure/r3", {"run_id": "r3"}) is False  # one mail went out: kept


def test_both_drivers_run_ids_start_with_the_utc_start_the_store_lists_by():
    local = new_run_context(T0)
    durable = run_id_for("ingest-all", T0.isoformat())
    assert local.run_id.startswith("20260105T060000Z") and durable.startswith("20260105T060000Z")
    assert run_id_prefixes(T0 - timedelta(hours=24), T0) == ["20260104", "20260105"]


def test_smtp_errors_are_classified_by_whether_a_retry_can_help():
    auth = classify_mail_error(smtplib.SMTPAuthenticationError(535, b"5.7.8 Authentication credentials invalid"))
    assert type(auth) is AlertDeliveryError and not auth.retryable and "rejected the login: 535" in str(auth)
    busy = classify_mail_error(smtplib.SMTPDataError(451, b"4.3.0 try again later"))
    assert isinstance(busy, AlertServerUnavailableError) and busy.retryable
    assert type(classify_mail_error(smtplib.SMTPDataError(554, b"5.7.1 rejected"))) is AlertDeliveryError
    assert isinstance(classify_mail_error(ConnectionRefusedError(111, "Connection refused")), AlertServerUnavailableError)
    assert isinstance(classify_mail_error(socket.timeout("timed out")), AlertServerUnavailableError)
    assert isinstance(classify_mail_error(smtplib.SMTPServerDisconnected("gone")), AlertServerUnavailableError)
    refused = classify_mail_error(smtplib.SMTPRecipientsRefused({"x@example.com": (550, b"no such user")}))
    assert type(refused) is AlertDeliveryError and "x@example.com: 550 no such user" in str(refused)
    no_auth = classify_mail_error(smtplib.SMTPNotSupportedError("SMTP AUTH extension not supported by server."))
    assert type(no_auth) is AlertDeliveryError


def test_a_job_named_like_a_credential_is_not_masked_in_the_layout():
    """`api_token: failed` is the text part's layout, not a key=value secret."""
    summary = run_summary("r", T0, [job("api_token", "failed", 0, "X", "token=abc123 leaked")])
    mail = render_failure(FailureReport.from_summary(summary, ""))
    assert "api_token: failed, 0 rows" in mail.text
    assert "abc123" not in mail.text + mail.html and "token=***" in mail.text


def test_daily_report_lists_the_drift_and_quality_findings_the_fan_in_writes():
    """The run summary carries drift and quality as `drift_findings` / `quality_failures`
    lines (ingest/records/check_results.py); the daily summary used to read only a `findings` key
    that nothing wrote, so schema changes and failed rules never reached the mail."""
    from ingest.records.check_results import findings
    from ingest.core.result import JobResult, JobStatus

    orders = JobResult(job_name="orders", status=JobStatus.SUCCEEDED, run_id="r1", drift={
        "status": "changed", "severity": "warn", "contract": "evolve", "added": [{"name": "discount", "type": "decimal"}],
        "removed": [], "retyped": [], "nullability": [], "message": ""})
    customers = JobResult(job_name="customers", status=JobStatus.FAILED, run_id="r1", quality=[
        {"place": "quality_rules!A2", "rule": "not_null", "column": "email", "status": "failed", "severity": "fail",
         "detail": "3 rows with NULL"}])
    quality_failures, drift_findings = findings([orders, customers])
    summary = run_summary("r1", T0, [job("orders"), job("customers", "failed", 0, "DataQualityError", "rule failed")],
                          quality_failures=quality_failures, drift_findings=drift_findings)
    report = daily_report([summary], "test", "2026-01-05", T0 - timedelta(hours=23), T0 + timedelta(hours=1))
    drift, quality = report.findings["drift"], report.findings["quality"]
    assert [(f.job_name, f.run_id) for f in drift] == [("orders", "r1")] and "discount" in drift[0].message
    assert [f.job_name for f in quality] == ["customers"] and "3 rows with NULL" in quality[0].message
    mail = render_daily(report)
    assert "discount" in mail.text and "3 rows with NULL" in mail.html

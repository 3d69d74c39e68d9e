"""Alert mails from the local runner and the CLI, through a real SMTP server on 127.0.0.1
(aiosmtpd: STARTTLS or implicit TLS with a private CA, AUTH), with real PostgreSQL loads."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path

import pytest

from ingest.records.audit import read_audit
from ingest.config import read_workbook
from ingest.drivers.finalize import format_summary
from ingest.plan.planner import make_plan, new_run_context
from ingest.drivers.local.runner import run_local
from tests.integration.conftest import create_orders
from tests.integration.test_cli import ingest
from tests.mailserver import make_certificates, start_mail_server
from tests.services import free_port
from tests.workbooks import job_row, write_workbook

T = datetime(2026, 1, 5, 7, 0, tzinfo=timezone.utc)
TEAM, SENDER = "ops@example.com", "ingest@example.com"


class _Table(HTMLParser):
    """The cells' text of every table row (th and td) of an HTML mail."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def table_rows(html: str) -> list[list[str]]:
    parser = _Table()
    parser.feed(html)
    return [row for row in parser.rows if len(row) > 1]  # the layout's one-cell rows are not data


@pytest.fixture
def mail_server():
    server = start_mail_server()
    yield server
    server.stop()


def with_mail(settings, port: int, security: str = "none", **changes):
    return settings.with_overrides(smtp_host="127.0.0.1", smtp_port=port, smtp_security=security,
                                   alert_from=SENDER, alert_to=(TEAM,), environment="test", **changes)


def run_at(book: Path, settings, when: datetime, scheduled: bool = False, jobs=None):
    plan = make_plan(read_workbook(book), new_run_context(when), jobs)
    return run_local(plan, settings, book, scheduled=scheduled)


def test_failed_jobs_send_one_failure_mail_per_run_over_starttls_with_login(
        postgres, pg_schema, settings, tmp_path, monkeypatch, caplog):
    create_orders(postgres, pg_schema, 20)
    smtp_password, source_password = "Smtp-Canary-Pw-3391", "Source-Canary-Pw-7730"
    monkeypatch.setenv("ALERTS__SMTP__USER", "ingest-alerts")
    monkeypatch.setenv("ALERTS__SMTP__PASSWORD", smtp_password)
    monkeypatch.setenv("SOURCES__PGBAD__CREDENTIALS", postgres.url(password=source_password))
    certificates = make_certificates(tmp_path / "certs")
    server = start_mail_server("starttls", ("ingest-alerts", smtp_password), certificates)
    book = write_workbook(tmp_path / "w.xlsx", [
        job_row(job_name="good", source_schema=pg_schema),
        job_row(job_name="missing_table", source_schema=pg_schema, source_table="nope", target_table="o2",
                alert_recipients="sales@example.com"),
        job_row(job_name="wrong_password", connection="pgbad", source_schema=pg_schema, target_table="o3",
                alert_recipients="sales@example.com; dba@example.com; OPS@example.com"),
        job_row(job_name="bad_row", load_type="SOMETIMES", target_table="o4")])
    try:
        with caplog.at_level(logging.INFO):
            summary = run_at(book, with_mail(settings, server.port, "starttls", smtp_ca_file=certificates.ca_file), T)
    finally:
        server.stop()

    assert (summary.succeeded, summary.failed) == (1, 3)
    mailbox = server.mailbox
    assert len(mailbox.mails) == 3 and mailbox.logins == ["ingest-alerts"] * 3
    (team,) = mailbox.to(TEAM)
    assert team.subject == f"[ingest test] 3 of 4 jobs failed, run {summary.run_id}"
    assert team.message["From"] == SENDER and team.message["To"] == TEAM
    assert team.message.get_content_type() == "multipart/alternative"
    rows = table_rows(team.html)
    assert rows[0] == ["job", "status", "rows", "duration", "error class", "message"]
    by_job = {row[0]: row for row in rows[1:]}
    assert [row[0] for row in rows[1:]] == ["missing_table", "wrong_password", "bad_row", "good"]
    assert by_job["good"][1:3] == ["succeeded", "20"] and by_job["good"][4:] == ["", ""]
    assert by_job["missing_table"][1:3] == ["failed", "0"]
    assert by_job["missing_table"][4] == "SourceObjectNotFoundError"
    assert f"table {pg_schema}.nope does not exist" in by_job["missing_table"][5]
    assert by_job["wrong_password"][4] == "SourceAuthenticationError"
    assert by_job["bad_row"][1] == "invalid" and "jobs!H5" in by_job["bad_row"][5]
    assert "jobs!H5: load_type &#39;SOMETIMES&#39; is not one of FULL, INCREMENTAL, CDC" in team.html  # workbook errors
    assert "wrong_password: failed, 0 rows" in team.text and "SourceAuthenticationError" in team.text
    assert "good: succeeded, 20 rows" in team.text

    # each job's own recipients: one mail per run, with only their failed jobs
    (sales,) = mailbox.to("sales@example.com")
    assert [row[0] for row in table_rows(sales.html)[1:]] == ["missing_table", "wrong_password"]
    (dba,) = mailbox.to("dba@example.com")
    assert [row[0] for row in table_rows(dba.html)[1:]] == ["wrong_password"]
    assert dba.subject == f"[ingest test] 1 of 1 job failed, run {summary.run_id}"

    assert [(a["kind"], a["status"], a["recipients"]) for a in summary.alerts] == [
        ("failure", "sent", [TEAM]), ("failure", "sent", ["dba@example.com"]),
        ("failure", "sent", ["sales@example.com"])]  # job recipients in address order
    stored = json.loads((settings.audit_dir / "runs" / f"{summary.run_id}.json").read_text())
    assert stored["alerts"] == summary.alerts
    # no secret in any mail, the summary, the audit or the log
    everything = "".join(m.raw for m in mailbox.mails) + json.dumps(stored) + caplog.text
    everything += (settings.audit_dir / "audit_trail.csv").read_text()
    for secret in (smtp_password, source_password):
        assert secret not in everything


def test_no_mail_when_every_job_succeeded_and_no_summary_is_due(postgres, pg_schema, settings, tmp_path, mail_server):
    create_orders(postgres, pg_schema, 5)
    book = write_workbook(tmp_path / "w.xlsx", [job_row(source_schema=pg_schema)])
    mailing = with_mail(settings, mail_server.port, alert_summary_hour=8)
    quiet = run_at(book, mailing, T)
    assert quiet.exit_code == 0 and quiet.alerts == []
    early = run_at(book, mailing, T, scheduled=True)  # 07:00 UTC, the summary is due from 08:00
    assert [(a["kind"], a["status"], a["detail"]) for a in early.alerts] == [
        ("daily_summary", "skipped", "not due before 08:00 UTC")]
    assert mail_server.mailbox.mails == []
    assert not (settings.audit_dir / "alerts").exists()


def test_the_daily_summary_is_sent_once_a_day_by_the_scheduled_run(postgres, pg_schema, settings, tmp_path, mail_server):
    create_orders(postgres, pg_schema, 12)
    book = write_workbook(tmp_path / "w.xlsx", [
        job_row(job_name="good", source_schema=pg_schema),
        job_row(job_name="missing", source_schema=pg_schema, source_table="nope", target_table="m")])
    mailing = with_mail(settings, mail_server.port, alert_summary_hour=6)
    mailbox = mail_server.mailbox
    night = run_at(book, mailing, T.replace(hour=1))  # not scheduled: the failure mail only
    assert [m.subject for m in mailbox.mails] == [f"[ingest test] 1 of 2 jobs failed, run {night.run_id}"]
    before = run_at(book, mailing, T.replace(hour=5), scheduled=True, jobs=["good"])
    assert len(mailbox.mails) == 1 and before.alerts[0]["detail"] == "not due before 06:00 UTC"

    due = run_at(book, mailing, T, scheduled=True, jobs=["good"])
    assert len(mailbox.mails) == 2
    summary_mail = mailbox.mails[1]
    assert summary_mail.subject == "[ingest test] daily summary 2026-01-05: 3 runs, 3 job loads ok, 1 failed"
    assert summary_mail.message["To"] == TEAM
    rows = table_rows(summary_mail.html)
    assert rows[0] == ["job", "runs", "ok", "failed", "rows", "last status", "last error"]
    assert rows[1][:6] == ["missing", "1", "0", "1", "0", "failed"]
    assert rows[1][6] == f"SourceObjectNotFoundError: job 'missing': table {pg_schema}.nope does not exist in connection 'pg'"
    assert rows[2] == ["good", "3", "3", "0", "36", "succeeded", ""]
    assert "missing: 1 run(s), 0 ok, 1 failed" in summary_mail.text
    assert "Period (UTC): 2026-01-04T07:00+00:00 to 2026-01-05T07:00+00:00" in summary_mail.text
    assert [(a["kind"], a["status"]) for a in due.alerts] == [("daily_summary", "sent")]
    assert (settings.audit_dir / "alerts" / "daily_summary" / "2026-01-05.json").is_file()

    later = run_at(book, mailing, T.replace(hour=9), scheduled=True, jobs=["good"])
    assert len(mailbox.mails) == 2  # once a day
    assert later.alerts == [{"kind": "daily_summary", "status": "skipped", "recipients": [],
                             "detail": "already sent for 2026-01-05", "error_class": None,
                             "error_message": None, "attempts": 0}]

    next_day = run_at(book, mailing, T.replace(day=6, hour=6, minute=30), scheduled=True, jobs=["good"])
    assert [a["status"] for a in next_day.alerts] == ["sent"] and len(mailbox.mails) == 3
    # the runs started in the 24 hours before: 07:00 and 09:00 yesterday, and this one
    assert mailbox.mails[2].subject == "[ingest test] daily summary 2026-01-06: 3 runs, 3 job loads ok, 0 failed"


def test_smtp_down_the_run_completes_and_the_failed_send_is_logged_and_audited(
        postgres, pg_schema, settings, tmp_path, caplog):
    create_orders(postgres, pg_schema, 8)
    book = write_workbook(tmp_path / "w.xlsx", [
        job_row(job_name="good", source_schema=pg_schema),
        job_row(job_name="missing", source_schema=pg_schema, source_table="nope", target_table="m")])
    nothing_listens = free_port()
    with caplog.at_level(logging.INFO):
        summary = run_at(book, with_mail(settings, nothing_listens), T, scheduled=True)

    assert summary.exit_code == 1 and summary.jobs[0]["rows_processed"] == 8  # the run itself is unharmed
    assert [(a["kind"], a["status"], a["error_class"], a["attempts"]) for a in summary.alerts] == [
        ("failure", "failed", "AlertServerUnavailableError", 3),
        ("daily_summary", "failed", "AlertServerUnavailableError", 3)]
    assert "could not be reached: ConnectionRefusedError" in summary.alerts[0]["error_message"]
    stored = json.loads((settings.audit_dir / "runs" / f"{summary.run_id}.json").read_text())
    assert stored["alerts"] == summary.alerts
    assert {r["job_name"] for r in read_audit(settings.audit_dir)} == {"good", "missing"}
    assert f"failure mail to {TEAM} not sent: AlertServerUnavailableError" in caplog.text
    assert "failure mail not sent: AlertServerUnavailableError" in format_summary(summary)
    # nothing went out, so nothing is marked as sent: the next scheduled run tries again
    assert list((settings.audit_dir / "alerts").rglob("*.json")) == []

    server = start_mail_server()
    try:
        again = run_at(book, with_mail(settings, server.port), T.replace(hour=8), scheduled=True, jobs=["good"])
    finally:
        server.stop()
    assert [(a["kind"], a["status"]) for a in again.alerts] == [("daily_summary", "sent")]
    (daily,) = server.mailbox.mails
    assert "Alert delivery (2)" in daily.text and "failure mail: AlertServerUnavailableError" in daily.html


def test_a_temporary_refusal_is_retried_then_delivered(postgres, pg_schema, settings, tmp_path, mail_server):
    book = write_workbook(tmp_path / "w.xlsx", [job_row(source_schema=pg_schema, source_table="nope")])
    mail_server.mailbox.replies.append("451 4.3.0 Try again later")
    summary = run_at(book, with_mail(settings, mail_server.port), T)
    assert [(a["status"], a["attempts"]) for a in summary.alerts] == [("sent", 2)]
    assert len(mail_server.mailbox.mails) == 1


# aiosmtpd counts only STARTTLS as TLS for AUTH and warns; with implicit TLS the whole line is encrypted
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_implicit_tls_login_refused_then_accepted(postgres, pg_schema, settings, tmp_path, monkeypatch):
    book = write_workbook(tmp_path / "w.xlsx", [job_row(source_schema=pg_schema, source_table="nope")])
    certificates = make_certificates(tmp_path / "certs")
    server = start_mail_server("ssl", ("ingest-alerts", "Right-Pw-5512"), certificates)
    mailing = with_mail(settings, server.port, "ssl", smtp_ca_file=certificates.ca_file)
    monkeypatch.setenv("ALERTS__SMTP__USER", "ingest-alerts")
    try:
        monkeypatch.setenv("ALERTS__SMTP__PASSWORD", "Wrong-Pw-9034")
        refused = run_at(book, mailing, T)
        monkeypatch.setenv("ALERTS__SMTP__PASSWORD", "Right-Pw-5512")
        accepted = run_at(book, mailing, T.replace(hour=8))
    finally:
        server.stop()
    (outcome,) = refused.alerts
    assert (outcome["status"], outcome["error_class"], outcome["attempts"]) == ("failed", "AlertDeliveryError", 1)
    assert "rejected the login: 535" in outcome["error_message"] and "Wrong-Pw-9034" not in json.dumps(refused.to_dict())
    assert [a["status"] for a in accepted.alerts] == ["sent"] and server.mailbox.logins == ["ingest-alerts"]


def test_an_untrusted_certificate_is_refused_without_retry(postgres, pg_schema, settings, tmp_path):
    book = write_workbook(tmp_path / "w.xlsx", [job_row(source_schema=pg_schema, source_table="nope")])
    server = start_mail_server("starttls", certificates=make_certificates(tmp_path / "certs"))
    try:
        summary = run_at(book, with_mail(settings, server.port, "starttls"), T)  # no INGEST_SMTP_CA_FILE
    finally:
        server.stop()
    (outcome,) = summary.alerts
    assert (outcome["status"], outcome["error_class"], outcome["attempts"]) == ("failed", "AlertDeliveryError", 1)
    assert "certificate is not trusted" in outcome["error_message"] and server.mailbox.mails == []


def test_cli_scheduled_run_sends_the_daily_summary_and_a_failing_run_the_failure_mail(
        postgres, pg_schema, tmp_path, mail_server):
    create_orders(postgres, pg_schema, 3)
    env = {"SOURCES__PG__CREDENTIALS": postgres.url(), "INGEST_DESTINATION": str(tmp_path / "lake"),
           "INGEST_SMTP_HOST": "127.0.0.1", "INGEST_SMTP_PORT": str(mail_server.port), "INGEST_SMTP_SECURITY": "none",
           "INGEST_ALERT_FROM": SENDER, "INGEST_ALERT_TO": TEAM, "INGEST_ENVIRONMENT": "cli"}
    good = write_workbook(tmp_path / "good.xlsx", [job_row(source_schema=pg_schema)])
    result = ingest(["run", "--config", str(good), "--scheduled"], cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"daily_summary mail sent to {TEAM}" in result.stdout
    (daily,) = mail_server.mailbox.mails
    assert daily.subject.startswith("[ingest cli] daily summary ") and "1 run, 1 job loads ok, 0 failed" in daily.subject

    failing = write_workbook(tmp_path / "failing.xlsx", [job_row(source_schema=pg_schema, source_table="nope")])
    result = ingest(["run", "--config", str(failing)], cwd=tmp_path, env=env)
    assert result.returncode == 1 and f"failure mail sent to {TEAM}" in result.stdout
    assert [m.subject.split(",")[0] for m in mail_server.mailbox.mails[1:]] == ["[ingest cli] 1 of 1 job failed"]

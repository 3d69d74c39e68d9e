"""Slot safety of load_type CDC on a real PostgreSQL (wal_level=logical) and a real SMTP server
(aiosmtpd on 127.0.0.1): every run reports each slot's retained WAL in the summary (console and
JSON), the check results and the dashboard; above INGEST_CDC_LAG_ALERT_BYTES an alert mail goes
out; `plan` shows each CDC connection's slot lag, and an unreachable server never fails it."""

from __future__ import annotations

import csv
import json
from datetime import datetime, timezone

import pytest

from ingest.config import read_workbook
from ingest.dashboard.render import render_html
from ingest.dashboard.model import build
from ingest.dashboard.sources import LocalAuditReader
from ingest.drivers.finalize import format_summary
from ingest.drivers.local.runner import run_local
from ingest.plan.planner import make_plan, new_run_context
from tests.cdc_helpers import sql
from tests.integration.test_alerts import SENDER, TEAM, table_rows
from tests.integration.test_cli import ingest
from tests.mailserver import start_mail_server
from tests.services import free_port
from tests.workbooks import job_row, write_workbook

T = datetime(2026, 2, 3, 8, 0, tzinfo=timezone.utc)


@pytest.fixture
def cdc_source(postgres, monkeypatch):
    schema, connection = "cdcsafety", "cdc_safety"
    monkeypatch.setenv(f"SOURCES__{connection.upper()}__CREDENTIALS", postgres.url())
    sql(postgres, f"DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema};"
                  f" CREATE TABLE {schema}.events (id int PRIMARY KEY, body text);"
                  f" INSERT INTO {schema}.events SELECT g, 'e' || g FROM generate_series(1, 20) g")
    yield schema, connection
    sql(postgres, f"SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots"
                  f" WHERE slot_name = 'ingest_cdc_{connection}'; DROP PUBLICATION IF EXISTS ingest_cdc_{connection}")


def book(tmp_path, schema, connection):
    return write_workbook(tmp_path / "cdc.xlsx", [
        job_row(job_name="events", connection=connection, source_schema=schema, source_table="events",
                load_type="CDC", table_format="delta")])


def run(path, settings, when=T):
    return run_local(make_plan(read_workbook(path), new_run_context(when)), settings, path)


def test_every_run_reports_the_slot_and_mails_above_the_threshold(postgres, settings, tmp_path, cdc_source):
    schema, connection = cdc_source
    path = book(tmp_path, schema, connection)
    server = start_mail_server()
    mailing = settings.with_overrides(smtp_host="127.0.0.1", smtp_port=server.port, smtp_security="none",
                                      alert_from=SENDER, alert_to=(TEAM,), environment="test")
    try:
        quiet = run(path, mailing)  # 1 GiB: the default threshold, far above what the slot holds
        assert quiet.succeeded == 1, quiet.jobs[0]["error_message"]
        (slot,) = quiet.cdc_slots
        assert slot["slot"] == f"ingest_cdc_{connection}" and slot["jobs"] == ["events"]
        assert slot["status"] == "ok" and slot["threshold_bytes"] == 1 << 30 and slot["retained_wal_bytes"] >= 0
        assert server.mailbox.mails == [] and quiet.alerts == []

        sql(postgres, f"INSERT INTO {schema}.events SELECT g, repeat('x', 500) FROM generate_series(21, 3000) g")
        sql(postgres, "CHECKPOINT")  # WAL moves on after the read: the slot retains what it has not confirmed
        loud = run(path, mailing.with_overrides(cdc_lag_alert_bytes=1), T.replace(hour=9))
    finally:
        server.stop()
    assert loud.succeeded == 1, loud.jobs[0]["error_message"]
    assert loud.watermark_conflicts == [] and read_workbook(path).errors == []  # the LSN is not written back
    (slot,) = loud.cdc_slots
    assert slot["status"] == "over_threshold" and slot["retained_wal_bytes"] > 1
    text = format_summary(loud)
    assert f"cdc: slot ingest_cdc_{connection} (connection {connection}; jobs events): retains" in text
    assert "OVER the alert threshold 1 B" in text and f"cdc drop --connection {connection}" in text

    (mail,) = server.mailbox.mails
    assert mail.rcpt_tos == [TEAM]
    assert mail.subject == (f"[ingest test] CDC slot ingest_cdc_{connection} retains more than 1 B of WAL,"
                            f" run {loud.run_id}")
    rows = table_rows(mail.html)
    assert rows[0] == ["slot", "connection", "retained WAL", "lake behind", "status", "jobs"]
    assert rows[1][0] == f"ingest_cdc_{connection}" and rows[1][4] == "over threshold" and rows[1][5] == "events"
    assert "python -m ingest cdc drop --connection <connection>" in mail.text
    assert [(a["kind"], a["status"]) for a in loud.alerts] == [("cdc_lag", "sent")]

    stored = json.loads((settings.audit_dir / "runs" / f"{loud.run_id}.json").read_text())
    assert stored["cdc_slots"] == loud.cdc_slots
    with open(settings.audit_dir / "check_results.csv", newline="") as handle:
        checks = [r for r in csv.DictReader(handle) if r["check"] == "cdc_slot"]
    assert [(r["run_id"], r["job_name"], r["status"]) for r in checks] == [
        (quiet.run_id, "events", "passed"), (loud.run_id, "events", "failed")]
    assert int(checks[1]["observed"]) == slot["retained_wal_bytes"] and checks[1]["argument"] == "1"

    reader = LocalAuditReader(settings.audit_dir)
    data = build(reader.summaries(T.replace(hour=0), T.replace(hour=23)), reader.audit_rows(T, T), days=2,
                 source="test", now=T.replace(hour=12))
    page = data.to_page()
    assert [(s["slot"], s["status"], s["run_id"]) for s in page["cdc_slots"]] == [
        (f"ingest_cdc_{connection}", "over_threshold", loud.run_id)]
    assert page["tiles"]["cdc_slots_over"] == 1
    html = render_html(data)
    assert 'id="table-cdc-slots"' in html and "over_threshold" in html


def test_a_failing_cdc_load_still_reports_its_slot(postgres, settings, tmp_path, cdc_source, monkeypatch):
    """A load that fails after reading the slot (the lake write is made to fail: fault
    injection, as no disk fills here) still measures the slot; one refused before it connects
    to the slot says the slot was not read."""
    from ingest.sources.postgres_cdc import connection_load

    schema, connection = cdc_source
    path = book(tmp_path, schema, connection)
    assert run(path, settings).succeeded == 1
    sql(postgres, f"INSERT INTO {schema}.events SELECT g, repeat('z', 500) FROM generate_series(21, 2000) g")

    def full_disk(ctx, batch, state):
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patched:
        patched.setattr(connection_load, "_land", full_disk)
        failed = run(path, settings.with_overrides(cdc_lag_alert_bytes=100_000), T.replace(hour=9))
    assert failed.failed == 1 and "No space left on device" in failed.jobs[0]["error_message"]
    (slot,) = failed.cdc_slots
    assert slot["status"] == "over_threshold" and slot["lag_bytes"] > 1_000_000  # nothing confirmed

    sql(postgres, f"ALTER TABLE {schema}.events DROP CONSTRAINT events_pkey")  # no key any more: refused
    refused = run(path, settings, T.replace(hour=10))
    assert refused.failed == 1 and refused.jobs[0]["error_class"] == "CdcPrerequisiteError"
    (slot,) = refused.cdc_slots
    assert slot["status"] == "unknown" and "retained WAL unknown" in format_summary(refused)


def test_plan_shows_slot_lag_and_an_unreachable_server_does_not_fail_it(postgres, tmp_path, cdc_source):
    schema, connection = cdc_source
    path = book(tmp_path, schema, connection)
    env = {f"SOURCES__{connection.upper()}__CREDENTIALS": postgres.url(),
           "INGEST_DESTINATION": str(tmp_path / "lake"), "INGEST_AUDIT_DIR": str(tmp_path / "audit")}
    before = ingest(["plan", "--config", str(path)], cwd=tmp_path, env=env)
    assert before.returncode == 0, before.stderr
    assert (f"cdc   connection {connection} (jobs events): no slot ingest_cdc_{connection} yet:"
            " the first run creates it from a snapshot") in before.stdout

    sql(postgres, f"SELECT pg_create_logical_replication_slot('ingest_cdc_{connection}', 'pgoutput')")
    sql(postgres, f"INSERT INTO {schema}.events SELECT g, repeat('y', 300) FROM generate_series(100, 2000) g")
    planned = ingest(["plan", "--config", str(path), "--json"], cwd=tmp_path, env=env)
    assert planned.returncode == 0, planned.stderr
    (slot,) = json.loads(planned.stdout)["cdc_slots"]
    assert slot["reachable"] and slot["exists"] and slot["jobs"] == ["events"]
    assert slot["retained_wal_bytes"] > 500_000 and "retains" in slot["text"]

    password = "Plan-Canary-Pw-5521"
    down = {**env, f"SOURCES__{connection.upper()}__CREDENTIALS":
            f"postgresql://u:{password}@127.0.0.2:{free_port()}/db"}
    unreachable = ingest(["plan", "--config", str(path)], cwd=tmp_path, env=down)
    assert unreachable.returncode == 0, unreachable.stderr
    assert f"cdc   connection {connection} (jobs events): unreachable: " in unreachable.stdout
    assert "run   events" in unreachable.stdout and password not in unreachable.stdout + unreachable.stderr

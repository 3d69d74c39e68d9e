"""Telemetry records as Application Insights receives them: the real fan-in step emits them,
OpenTelemetry's logging handler (the SDK azure-functions-durable ships) collects them, and the
Azure Monitor exporter's own conversion turns each into the envelope it would send. The custom
dimensions must be there, typed, and no secret anywhere."""

from __future__ import annotations

import json
import logging

import pytest
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs import export as otel_export
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor

from ingest.drivers.finalize import finalize_run
from ingest.plan.planner import Plan
from ingest.core.redact import register_secret
from ingest.core.result import JobResult, JobStatus, RunContext
from ingest.alerts.telemetry import configure_export, install_handler

SECRET = "Tele-Canary-40917"
InMemory = getattr(otel_export, "InMemoryLogRecordExporter", None) or otel_export.InMemoryLogExporter


@pytest.fixture
def exported():
    """Records of the `ingest` loggers as the OpenTelemetry exporter gets them."""
    provider, exporter = LoggerProvider(), InMemory()
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    handler = install_handler(LoggingHandler(logger_provider=provider))
    logger = logging.getLogger("ingest")
    level = logger.level
    logger.setLevel(logging.INFO)
    yield exporter
    logger.removeHandler(handler)
    logger.setLevel(level)


def run_two_jobs(settings) -> dict:
    register_secret(SECRET)
    run = RunContext("20260105T060000Z-tele", "2026-01-05T06:00:00+00:00")
    good = JobResult("orders", JobStatus.SUCCEEDED, run.run_id, table_name="orders", rows_processed=40,
                     duration_s=1.25, started_at=run.started_at, finished_at="2026-01-05T06:00:02+00:00",
                     rowcount={"status": "ok", "message": ""})
    bad = JobResult("crm", JobStatus.FAILED, run.run_id, duration_s=0.5, started_at=run.started_at,
                    finished_at="2026-01-05T06:00:01+00:00", error_class="SourceAuthenticationError", attempts=1,
                    error_message=f"login failed for postgresql://crm:{SECRET}@db:5432/crm, password={SECRET}")
    return finalize_run(Plan(run=run), [good, bad], settings).to_dict()


def _records(exporter):
    return [getattr(r, "log_record", r) for r in exporter.get_finished_logs()], exporter.get_finished_logs()


def test_the_fan_in_step_emits_a_record_per_job_and_per_run_with_dimensions(settings, exported):
    run_two_jobs(settings)
    records, _ = _records(exported)
    events = [r for r in records if (r.attributes or {}).get("event") in ("ingest.job", "ingest.run")]
    by_job = {r.attributes.get("job_name"): r for r in events if r.attributes["event"] == "ingest.job"}
    orders = dict(by_job["orders"].attributes)
    assert {k: orders[k] for k in ("run_id", "job_name", "status", "rows", "duration_s", "error_class")} == {
        "run_id": "20260105T060000Z-tele", "job_name": "orders", "status": "succeeded", "rows": 40,
        "duration_s": 1.25, "error_class": ""}
    assert by_job["orders"].severity_text == "INFO" and by_job["crm"].severity_text == "ERROR"
    assert by_job["crm"].attributes["error_class"] == "SourceAuthenticationError"
    (run,) = [r for r in events if r.attributes["event"] == "ingest.run"]
    assert {k: run.attributes[k] for k in ("status", "rows", "jobs_total", "jobs_failed")} == {
        "status": "failed", "rows": 40, "jobs_total": 2, "jobs_failed": 1}
    assert run.attributes["duration_s"] > 0
    assert "rows=40" in str(by_job["orders"].body) and "status=succeeded" in str(by_job["orders"].body)


def test_the_azure_monitor_envelope_has_custom_dimensions_and_no_secret(settings, exported):
    from azure.monitor.opentelemetry.exporter.export.logs._exporter import _convert_log_to_envelope

    run_two_jobs(settings)
    _, readable = _records(exported)
    envelopes = [_convert_log_to_envelope(r).as_dict() for r in readable]
    text = json.dumps(envelopes, default=str)
    assert SECRET not in text
    crm = [e for e in envelopes if e["data"]["baseData"]["properties"].get("job_name") == "crm"]
    assert crm, text[:2000]
    properties = crm[0]["data"]["baseData"]["properties"]
    assert properties["run_id"] == "20260105T060000Z-tele" and properties["status"] == "failed"
    assert properties["rows"] == "0" and properties["duration_s"] == "0.5"
    assert "postgresql://crm:***@db" in properties["error_message"] and "password=***" in properties["error_message"]
    assert crm[0]["data"]["baseData"]["message"].startswith("ingest.job run_id=20260105T060000Z-tele job_name=crm")


def test_the_masking_filter_masks_structured_fields_too():
    register_secret(SECRET)
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record):
            seen.append(record)

    handler = install_handler(Keep(), "ingest.test_masking")
    logger = logging.getLogger("ingest.test_masking")
    logger.setLevel(logging.INFO)
    try:
        logger.info("conn", extra={"conn": f"postgresql://u:{SECRET}@h/db", "nested": {"k": [SECRET, 3]},
                                   "count": 5})
    finally:
        logger.removeHandler(handler)
    (record,) = seen
    assert record.conn == "postgresql://u:***@h/db" and record.nested == {"k": ["***", 3]} and record.count == 5


def test_export_is_off_without_a_connection_string_and_message_only_without_the_package():
    assert configure_export(None) == "off"
    try:  # the exporter (requirements-dev) shares the namespace; the distro has configure_azure_monitor
        from azure.monitor.opentelemetry import configure_azure_monitor  # noqa: F401
    except ImportError:
        assert configure_export("InstrumentationKey=00000000-0000-0000-0000-000000000000") == "message-only"
    else:  # pragma: no cover - the optional distro is not in requirements
        pytest.fail("azure-monitor-opentelemetry is installed: this test expects the default set-up without it")

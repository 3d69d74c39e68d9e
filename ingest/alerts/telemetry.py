"""Structured telemetry for Application Insights: at the end of every run (the shared fan-in
step, both drivers) one log record per job and one per run, on the logger `ingest.alerts.telemetry`.

Each record carries its custom dimensions twice:
- as LogRecord attributes (`extra=`), flat and primitive (str, int, float): the OpenTelemetry
  logging handler turns every extra attribute into a log attribute, and the Azure Monitor
  exporter sends log attributes as the trace's customDimensions. That path needs the optional
  package azure-monitor-opentelemetry and APPLICATIONINSIGHTS_CONNECTION_STRING (configure_export);
- in the message, as `key=value` pairs: the Functions host forwards a Python log record's
  message (not its extras) to Application Insights, so without the optional package the
  dimensions can still be read with KQL's `extract()` (infra/monitoring/ does both).

Dimensions: event (ingest.job | ingest.run), run_id, job_name, status, rows, duration_s,
error_class, error_message (redacted, one line, at most 300 characters), attempts,
rowcount_status; per run jobs_total, jobs_succeeded, jobs_failed. No secret: the values are
redacted here and again by the masking filter on every handler (ingest.core.redact)."""

from __future__ import annotations

import logging
from typing import Any

from ingest.alerts.store import parse_utc
from ingest.core.redact import SecretMaskingFilter, redact

log = logging.getLogger("ingest.telemetry")
JOB_EVENT, RUN_EVENT = "ingest.job", "ingest.run"
MAX_TEXT = 300


def _text(value: Any) -> str:
    text = " ".join(redact(value or "").split())
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 3] + "..."


def _pairs(dimensions: dict[str, Any]) -> str:
    """`key=value` pairs for the message; error_message last and quoted (it has spaces)."""
    parts = [f"{k}={v}" for k, v in dimensions.items() if k not in ("event", "error_message") and v != ""]
    if dimensions.get("error_message"):
        parts.append(f'error_message="{dimensions["error_message"]}"')
    return " ".join(parts)


def job_dimensions(job: dict[str, Any], run_id: str) -> dict[str, Any]:
    rowcount = job.get("rowcount") if isinstance(job.get("rowcount"), dict) else {}
    return {"event": JOB_EVENT, "run_id": str(run_id), "job_name": str(job.get("job_name") or ""),
            "status": str(job.get("status") or ""), "rows": int(job.get("rows_processed") or 0),
            "duration_s": round(float(job.get("duration_s") or 0.0), 3),
            "error_class": str(job.get("error_class") or ""), "error_message": _text(job.get("error_message")),
            "attempts": int(job.get("attempts") or 1), "rowcount_status": str(rowcount.get("status") or "")}


def run_dimensions(summary: dict[str, Any]) -> dict[str, Any]:
    try:
        duration = (parse_utc(summary["finished_at"]) - parse_utc(summary["started_at"])).total_seconds()
    except (KeyError, TypeError, ValueError):
        duration = 0.0
    failed = int(summary.get("failed") or 0)
    status = "failed" if failed or summary.get("config_errors") else "succeeded"
    return {"event": RUN_EVENT, "run_id": str(summary.get("run_id") or ""),
            "status": "interrupted" if summary.get("interrupted_by") else status,  # SIGINT/SIGTERM
            "rows": int(summary.get("rows_processed") or 0), "duration_s": round(duration, 3),
            "jobs_total": int(summary.get("total") or 0), "jobs_succeeded": int(summary.get("succeeded") or 0),
            "jobs_failed": failed, "jobs_interrupted": int(summary.get("interrupted") or 0)}


def emit_run(summary: dict[str, Any]) -> None:
    """One record per job (ERROR for a failed or rejected job, INFO otherwise), then one for the
    run. Never raises: telemetry must not fail a run whose data has landed."""
    try:
        run_id = str(summary.get("run_id") or "")
        for job in summary.get("jobs") or []:
            dimensions = job_dimensions(job, run_id)
            level = logging.INFO if dimensions["status"] == "succeeded" else logging.ERROR
            log.log(level, "%s %s", JOB_EVENT, _pairs(dimensions), extra=dimensions)
        dimensions = run_dimensions(summary)
        level = logging.INFO if dimensions["status"] == "succeeded" else logging.WARNING
        log.log(level, "%s %s", RUN_EVENT, _pairs(dimensions), extra=dimensions)
    except Exception as exc:  # noqa: BLE001 (see docstring)
        log.warning("telemetry not written: %s: %s", type(exc).__name__, redact(exc))


def install_handler(handler: logging.Handler, logger_name: str = "ingest") -> logging.Handler:
    """Attach an exporting handler (OpenTelemetry's) to our loggers, with the secret-masking
    filter first, so neither the message nor a dimension leaves the process unmasked."""
    if not any(isinstance(f, SecretMaskingFilter) for f in handler.filters):
        handler.addFilter(SecretMaskingFilter())
    logger = logging.getLogger(logger_name)
    if handler not in logger.handlers:
        logger.addHandler(handler)
    return handler


def configure_export(connection_string: str | None) -> str:
    """Send the `ingest` loggers' records with their dimensions to Application Insights through
    OpenTelemetry, when a connection string is set and the optional package
    azure-monitor-opentelemetry is installed. Returns what was done: off | message-only | opentelemetry."""
    if not connection_string:
        return "off"
    try:
        from azure.monitor.opentelemetry import configure_azure_monitor
    except ImportError:
        log.info("azure-monitor-opentelemetry is not installed: telemetry dimensions reach Application"
                 " Insights only inside the message text (through the Functions host)")
        return "message-only"
    logger = logging.getLogger("ingest")
    before = set(logger.handlers)
    configure_azure_monitor(connection_string=connection_string, logger_name="ingest", enable_live_metrics=False)
    for handler in set(logger.handlers) - before:
        install_handler(handler)
    return "opentelemetry"


def configure_from_environment() -> str:
    """configure_export with the app's settings; a malformed setting is left to the functions,
    which report it when called (the app must still load)."""
    from ingest.core.errors import SettingError
    from ingest.core.settings import Settings

    try:
        settings = Settings.from_env()
    except SettingError:
        return "off"
    return configure_export(settings.appinsights_connection_string)

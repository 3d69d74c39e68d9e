"""The checks of one load, called from ingest/load.py: the schema contract and a first drift
report before the load (so a load the contract refuses still reports what changed), then
after it the drift report and history, the quality rules on the files just written, and the
verdict. Runs inside the job (thread or Durable activity), so both drivers get it.

A check that breaks (the lake unreadable, a bug) is reported in the result, never raised:
only the verdict (DataQualityError, SchemaDriftError) fails the job.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any, Callable

import dlt

from ingest.checks import quality, schema_drift
from ingest.checks.contract import apply_contract
from ingest.checks.outcome import raise_for_checks
from ingest.checks.schema_drift import ColumnSnapshot, DriftReport, SchemaHistory
from ingest.core.classify import safe_message
from ingest.config.model import JobConfig
from ingest.lake.client import lake_client
from ingest.core.result import JobResult, RunContext

log = logging.getLogger("ingest.checks")


def column_normalizer(pipeline: dlt.Pipeline) -> Callable[[str], str]:
    """dlt's naming convention for the pipeline's schema (snake_case unless configured)."""
    schema = pipeline.default_schema if pipeline.default_schema_name else dlt.Schema(pipeline.pipeline_name)
    return schema.naming.normalize_identifier


def _source_columns(resource: Any, pipeline: dlt.Pipeline) -> list[ColumnSnapshot]:
    """The table as the source delivers it: dlt's column schema from the resource's reflection."""
    return schema_drift.snapshot(resource.compute_table_schema()["columns"], column_normalizer(pipeline))


def _lake_columns(pipeline: dlt.Pipeline, table: str) -> dict[str, dict[str, Any]]:
    """dlt's stored schema of the lake table after the load (empty if dlt has none)."""
    if not pipeline.default_schema_name or table not in pipeline.default_schema.tables:
        return {}
    return dict(pipeline.default_schema.get_table_columns(table))


def _history(pipeline: dlt.Pipeline, client: Any, job: JobConfig) -> tuple[SchemaHistory, str]:
    relative = schema_drift.history_path(pipeline.dataset_name, job.job_name)
    return SchemaHistory(client.fs_client, f"{client.bucket_path.rstrip('/')}/{relative}"), relative


def _compare_with_history(job: JobConfig, history: SchemaHistory, relative: str,
                          columns: list[ColumnSnapshot], run: RunContext) -> DriftReport:
    previous = history.last(before_run=run.run_id)
    report = schema_drift.compare(schema_drift.columns_of(previous), columns, job.drift_severity,
                                  job.schema_contract, previous_run_id=(previous or {}).get("run_id"))
    report.history_path = relative
    return report


def _error_report(job: JobConfig, exc: Exception) -> DriftReport:
    return DriftReport(status="error", severity=job.drift_severity.value, contract=job.schema_contract.value,
                       message=f"{type(exc).__name__}: {safe_message(exc)}")


def before_load(job: JobConfig, pipeline: dlt.Pipeline, resource: Any, run: RunContext,
                result: JobResult) -> list[ColumnSnapshot] | None:
    """Apply the schema contract; report drift against the history (replaced after the load).
    Returns the source's columns for `after_load` (None if they could not be read)."""
    apply_contract(resource, job.schema_contract)
    try:
        columns = _source_columns(resource, pipeline)
        if not columns:  # the resource declares no columns (an API): dlt infers them while loading
            return columns
        with lake_client(pipeline) as client:
            history, relative = _history(pipeline, client, job)
            result.drift = _compare_with_history(job, history, relative, columns, run).to_dict()
        return columns
    except Exception as exc:  # reported, never fatal: see module docstring
        result.drift = _error_report(job, exc).to_dict()
        return None


def after_load(job: JobConfig, pipeline: dlt.Pipeline, columns: list[ColumnSnapshot] | None, run: RunContext,
               result: JobResult) -> None:
    """Drift report and history entry, quality rules, then the verdict (raises DataCheckError)."""
    try:
        with lake_client(pipeline) as client:
            if columns is not None:  # else before_load's error report stands
                result.drift = _record_drift(job, pipeline, client, columns, run, result).to_dict()
            if job.quality_rules:
                result.quality = _evaluate_rules(job, pipeline, client, result)
    except Exception as exc:  # the lake could not be opened: reported, never fatal
        result.drift = _error_report(job, exc).to_dict()
        if job.quality_rules:
            result.quality = _rule_errors(job, f"lake could not be opened: {type(exc).__name__}: {safe_message(exc)}",
                                          result.rows_processed)
    _log(job, result)
    raise_for_checks(job, result)


def record_drift(job: JobConfig, pipeline: dlt.Pipeline, columns: list[ColumnSnapshot], run: RunContext,
                 result: JobResult) -> None:
    """The drift report and history entry of a load that has no resource to reflect (load_type
    CDC: the columns come from the log's relation messages); reported, never raised."""
    try:
        with lake_client(pipeline) as client:
            result.drift = _record_drift(job, pipeline, client, columns, run, result).to_dict()
    except Exception as exc:  # the lake could not be opened
        result.drift = _error_report(job, exc).to_dict()
    _log(job, result)


def _record_drift(job: JobConfig, pipeline: dlt.Pipeline, client: Any, columns: list[ColumnSnapshot],
                  run: RunContext, result: JobResult) -> DriftReport:
    try:
        lake = _lake_columns(pipeline, job.table_name)
        # without declared columns the snapshot is dlt's inferred schema, which never drops a column
        columns = schema_drift.fill_unknown_types(columns, lake) if columns else schema_drift.snapshot(lake)
        history, relative = _history(pipeline, client, job)
        report = _compare_with_history(job, history, relative, columns, run)
        report.discarded = schema_drift.discarded_by_contract(columns, lake, job.schema_contract)
        history.append(schema_drift.history_entry(
            report, columns, job_name=job.job_name, table=job.table_name, run_id=run.run_id,
            load_id=result.load_id, recorded_at=datetime.now(timezone.utc).isoformat()))
        return report
    except Exception as exc:  # reported, never fatal
        return _error_report(job, exc)


def _rule_errors(job: JobConfig, message: str, rows: int) -> list[dict[str, Any]]:
    return [quality.RuleResult(r.place, r.rule.value, r.column_text, r.argument, r.severity.value, "error",
                               None, rows, message).to_dict() for r in job.quality_rules]


def _evaluate_rules(job: JobConfig, pipeline: dlt.Pipeline, client: Any, result: JobResult) -> list[dict[str, Any]]:
    root = client.bucket_path.rstrip("/")
    try:
        results = quality.evaluate(job.quality_rules, client.fs_client, [f"{root}/{f}" for f in result.files],
                                   column_normalizer(pipeline))
        return [r.to_dict() for r in results]
    except Exception as exc:  # the files could not be read: every rule is an error
        return _rule_errors(job, f"files could not be read: {type(exc).__name__}: {safe_message(exc)}",
                            result.rows_processed)


def _log(job: JobConfig, result: JobResult) -> None:
    drift = result.drift or {}
    if drift.get("status") == "changed" or drift.get("discarded"):
        log.warning("job %s: schema drift [%s]: %s", job.job_name, drift["severity"], DriftReport(**drift).changes_text())
    elif drift.get("status") == "error":
        log.warning("job %s: schema drift check failed: %s", job.job_name, drift["message"])
    for rule in result.quality or []:
        if rule["status"] != "passed":
            log.warning("job %s: quality %s %s(%s) %s [%s]: %s", job.job_name, rule["place"], rule["rule"],
                        rule["column"], rule["status"], rule["severity"], rule["detail"])

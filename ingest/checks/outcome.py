"""What the checks mean for the job: a `fail` rule that did not pass, or schema drift on a job
whose drift_severity is `fail`, marks it failed. The files stay in the lake; the error names
them so they can be found (and the audit carries load_id and partition_path)."""

from __future__ import annotations

from typing import Any

from ingest.config.model import JobConfig
from ingest.config.rules import Severity
from ingest.core.errors import DataCheckError, DataQualityError, SchemaDriftError

MAX_LISTED = 5


def failed_rules(quality: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Rules with severity fail that did not pass (failed, or could not be evaluated)."""
    return [r for r in quality or [] if r["severity"] == Severity.FAIL.value and r["status"] != "passed"]


def drift_fails(job: JobConfig, drift: dict[str, Any] | None) -> bool:
    return job.drift_severity is Severity.FAIL and bool(drift) and drift["status"] in ("changed", "error")


def _drift_text(drift: dict[str, Any]) -> str:
    if drift["status"] == "error":
        return f"schema check could not run: {drift['message']}"
    from ingest.checks.schema_drift import DriftReport

    return "schema changed: " + DriftReport(**drift).changes_text()


def check_failure(job: JobConfig, result: Any) -> DataCheckError | None:
    """The error that marks the job failed, or None."""
    rules = failed_rules(result.quality)
    drift = drift_fails(job, result.drift)
    if not rules and not drift:
        return None
    where = f"the {result.rows_processed} rows stay in the lake, flagged (load_id {result.load_id}"
    where += f", {result.partition_path})" if result.partition_path else ")"
    parts = []
    if rules:
        listed = "; ".join(f"{r['place']} {r['rule']}({r['column']}) {r['status']}: {r['detail']}"
                           for r in rules[:MAX_LISTED])
        more = f"; and {len(rules) - MAX_LISTED} more" if len(rules) > MAX_LISTED else ""
        parts.append(f"{len(rules)} quality rule(s) with severity fail did not pass: {listed}{more}")
    if drift:
        parts.append(_drift_text(result.drift) + " (drift_severity fail)")
    error_type = DataQualityError if rules else SchemaDriftError
    return error_type(f"job '{job.job_name}': " + "; ".join(parts) + f"; {where}")


def raise_for_checks(job: JobConfig, result: Any) -> None:
    error = check_failure(job, result)
    if error is not None:
        raise error

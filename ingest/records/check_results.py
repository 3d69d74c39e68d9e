"""Check results for the fan-in step: rows of the audit's `check_results.csv` (one per quality
rule and per schema finding, per job, per run) and the lines of the run summary."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

from ingest.records.cdc_slots import slot_check_rows
from ingest.records.csv_files import append_csv_rows, csv_text, read_csv_rows
from ingest.checks.schema_drift import DriftReport
from ingest.core.redact import redact
from ingest.core.result import JobResult

CHECKS_FILE = "check_results.csv"
CHECK_COLUMNS = ["run_id", "job_name", "execution_date", "load_id", "check", "place", "rule", "column",
                 "argument", "severity", "status", "observed", "rows", "detail"]

_CHANGE_RULES = (("added", "column_added"), ("removed", "column_removed"), ("retyped", "column_retyped"),
                 ("nullability", "nullability_changed"))


def _drift_rows(drift: dict[str, Any]) -> list[dict[str, Any]]:
    base = {"check": "schema_drift", "place": drift.get("history_path") or "", "argument": drift["contract"],
            "severity": drift["severity"], "rows": ""}
    if drift["status"] == "error":
        return [{**base, "rule": "schema", "column": "", "status": "error", "observed": "", "detail": drift["message"]}]
    rows = []
    for key, rule in _CHANGE_RULES:
        for change in drift.get(key) or []:
            detail = change.get("type") or f"{change['from']} -> {change['to']}"
            rows.append({**base, "rule": rule, "column": change["name"], "status": "failed", "observed": "",
                         "detail": detail})
    for change in drift.get("discarded") or []:
        rows.append({**base, "rule": "not_loaded", "column": change["name"], "severity": "warn",
                     "status": "failed", "observed": "", "detail": change["reason"]})
    if not rows:
        detail = ("baseline: first snapshot" if drift["status"] == "baseline" else "unchanged since run "
                  f"{drift.get('previous_run_id')}")
        rows.append({**base, "rule": "schema", "column": "", "status": "passed", "observed": drift["columns"],
                     "detail": f"{drift['columns']} columns; {detail}"})
    return rows


def check_rows(results: Iterable[JobResult], execution_date: str) -> list[dict[str, Any]]:
    rows = []
    for result in results:
        key = {"run_id": result.run_id, "job_name": result.job_name, "execution_date": execution_date,
               "load_id": result.load_id or ""}
        if result.drift:
            rows.extend({**key, **row} for row in _drift_rows(result.drift))
        for rule in result.quality or []:
            rows.append({**key, "check": "quality", **{k: rule.get(k) for k in (
                "place", "rule", "column", "argument", "severity", "status", "observed", "rows", "detail")}})
        rows.extend({**key, **row} for row in slot_check_rows(result))  # load_type CDC: the slot's retained WAL
    return [{k: redact(v) if isinstance(v, str) else ("" if v is None else v) for k, v in row.items()}
            for row in rows]


def checks_csv(results: Iterable[JobResult], execution_date: str) -> str:
    return csv_text(CHECK_COLUMNS, check_rows(results, execution_date))


def append_check_rows(audit_dir: Path, results: Iterable[JobResult], execution_date: str) -> Path:
    """Append to `check_results.csv`, skipping jobs of a run already recorded (a repeated
    finalize never duplicates rows)."""
    audit_dir.mkdir(parents=True, exist_ok=True)
    return append_csv_rows(audit_dir / CHECKS_FILE, CHECK_COLUMNS, check_rows(results, execution_date))


def read_check_rows(audit_dir: Path) -> list[dict[str, str]]:
    return read_csv_rows(audit_dir / CHECKS_FILE)


def findings(results: Iterable[JobResult]) -> tuple[list[str], list[str]]:
    """(quality_failures, drift_findings) for the run summary: every rule that did not pass
    and every schema change, with its severity."""
    quality, drift = [], []
    for result in results:
        for rule in result.quality or []:
            if rule["status"] != "passed":
                quality.append(f"{result.job_name}: {rule['place']} {rule['rule']}({rule['column']})"
                               f" {rule['status']} [{rule['severity']}]: {rule['detail']}")
        report = result.drift or {}
        if report.get("status") == "error":
            drift.append(f"{result.job_name}: schema check failed [{report['severity']}]: {report['message']}")
        elif report.get("status") == "changed" or report.get("discarded"):
            drift.append(f"{result.job_name}: {DriftReport(**report).changes_text()} [{report['severity']}]")
    return quality, drift

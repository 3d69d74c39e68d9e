"""Slot safety of load_type CDC in the records: one report per replication slot of a run (the
WAL the server retains for it, how far the lake is behind), from the CDC jobs' results
(JobResult.cdc, ingest/sources/postgres_cdc/connection_load.py), checked against the setting
INGEST_CDC_LAG_ALERT_BYTES. The run summary lists them (console and JSON), the check results
(check_results.csv) hold one `cdc_slot` row per CDC job, the dashboard and the alert mail read
them from the summary. A slot nobody reads keeps WAL until the disk fills: this is where a
growing one shows."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Iterable

from ingest.core.result import JobResult

CHECK = "cdc_slot"
DEFAULT_THRESHOLD = 1 << 30
"""ingest.core.settings.Settings.cdc_lag_alert_bytes's default, for a result that did not record one."""


def human_bytes(value: int | None) -> str:
    """1536 -> '1.5 KiB'; None -> 'unknown'."""
    if value is None:
        return "unknown"
    amount, unit = float(value), "B"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(amount) < 1024 or unit == "TiB":
            break
        amount /= 1024
    return f"{int(amount)} B" if unit == "B" else f"{amount:.1f} {unit}"


@dataclass
class SlotReport:
    slot: str
    connection: str
    jobs: list[str] = field(default_factory=list)
    retained_wal_bytes: int | None = None
    """WAL the server keeps for the slot; None when it could not be read (connection failed)."""
    lag_bytes: int | None = None
    """From what the lake holds (the slot's confirmed LSN) to the server's current WAL."""
    confirmed_lsn: str = ""
    threshold_bytes: int = 0
    status: str = "unknown"
    """ok | over_threshold | unknown (the slot was not read in this run)"""

    @property
    def over_threshold(self) -> bool:
        return self.status == "over_threshold"

    def text(self) -> str:
        jobs = ", ".join(self.jobs)
        if self.retained_wal_bytes is None:
            return (f"slot {self.slot} (connection {self.connection}; jobs {jobs}): retained WAL unknown,"
                    " the slot was not read in this run")
        line = (f"slot {self.slot} (connection {self.connection}; jobs {jobs}): retains"
                f" {human_bytes(self.retained_wal_bytes)} of WAL, lake {human_bytes(self.lag_bytes)} behind")
        if self.over_threshold:
            line += (f"; OVER the alert threshold {human_bytes(self.threshold_bytes)}: the server keeps this WAL"
                     " until the slot is read; run the connection's CDC jobs, or `python -m ingest cdc drop"
                     f" --connection {self.connection}` if they are no longer wanted")
        return line

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _number(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def slot_reports(results: Iterable[JobResult], threshold_bytes: int) -> list[SlotReport]:
    """One report per slot the run's CDC jobs used, in slot order."""
    reports: dict[str, SlotReport] = {}
    for result in results:
        cdc = result.cdc or {}
        if not cdc.get("slot"):
            continue
        report = reports.setdefault(cdc["slot"], SlotReport(slot=str(cdc["slot"]),
                                                            connection=str(cdc.get("connection") or ""),
                                                            threshold_bytes=threshold_bytes))
        report.jobs.append(result.job_name)
        retained = _number(cdc.get("retained_wal_bytes"))
        if retained is not None:
            report.retained_wal_bytes, report.lag_bytes = retained, _number(cdc.get("lag_bytes"))
            report.confirmed_lsn = str(cdc.get("confirmed_lsn") or "")
            report.status = "over_threshold" if retained > threshold_bytes else "ok"
    return [reports[name] for name in sorted(reports)]


def slot_check_rows(result: JobResult) -> list[dict[str, Any]]:
    """The `cdc_slot` row of check_results.csv for a CDC job (none for other jobs), against the
    threshold the load recorded (`alert_threshold_bytes`)."""
    threshold_bytes = _number((result.cdc or {}).get("alert_threshold_bytes")) or DEFAULT_THRESHOLD
    reports = slot_reports([result], threshold_bytes)
    if not reports:
        return []
    report = reports[0]
    status = {"ok": "passed", "over_threshold": "failed"}.get(report.status, "error")
    return [{"check": CHECK, "place": report.slot, "rule": "retained_wal_bytes", "column": "",
             "argument": threshold_bytes, "severity": "warn", "status": status,
             "observed": "" if report.retained_wal_bytes is None else report.retained_wal_bytes,
             "rows": "", "detail": report.text()}]

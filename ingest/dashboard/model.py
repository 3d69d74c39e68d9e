"""What the dashboard shows, computed from the audit trail: the run summaries (runs/*.json) and
the audit rows (audit_trail CSV), whichever store they come from (ingest.dashboard.sources).

Everything is aggregated here, in Python, so the page embeds a few small series rather than
every audit row, and so the numbers are tested without a browser. Every text is redacted again
(the audit is redacted when written; the dashboard does not rely on it)."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable

from ingest.alerts.store import parse_utc
from ingest.core.redact import redact
from ingest.records.cdc_slots import human_bytes

MAX_SERIES = 12
"""Jobs drawn one by one in a chart; the others are summed as `(other jobs)`."""
MAX_RUNS = 200
MAX_TABLE_ROWS = 200
MAX_TEXT = 300
FINDING_KINDS = ("drift", "quality")
OK_STATUSES = {"ok", "passed", "pass", "succeeded", "success", "no_change", "unchanged", "baseline", "skipped"}
"""Check statuses that are not findings: a first schema snapshot is a baseline to compare with."""
LANDED = ("succeeded", "recovered")
"""Audit statuses whose rows are in the lake: a `recovered` row is a load an earlier, killed run
committed and never recorded (ingest/records/recovery.py): rows landed, no failure."""


def _text(value: Any) -> str:
    text = " ".join(redact(value).split())
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 3] + "..."


def _int(value: Any) -> int:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return 0


def _float(value: Any) -> float:
    try:
        return round(float(value), 3)
    except (TypeError, ValueError):
        return 0.0


def _utc(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return parse_utc(str(value))
    except ValueError:
        return None


@dataclass
class JobRun:
    """One job in one run: an audit row, enriched by the run summary's job entry."""

    run_id: str
    job_name: str
    started_at: str
    day: str
    status: str
    rows: int
    duration_s: float
    error_class: str = ""
    error_message: str = ""
    rowcount_status: str = ""
    rowcount_message: str = ""


@dataclass
class Finding:
    kind: str
    """drift | quality | row count | workbook"""
    run_id: str
    job_name: str
    started_at: str
    day: str
    status: str
    message: str


@dataclass
class RunRow:
    run_id: str
    started_at: str
    day: str
    duration_s: float
    total: int
    succeeded: int
    failed: int
    invalid: int
    rows: int


@dataclass
class SlotRow:
    """A CDC replication slot as the latest run that read it saw it (run summary `cdc_slots`)."""

    slot: str
    connection: str
    jobs: str
    retained_wal_bytes: int | None
    lag_bytes: int | None
    threshold_bytes: int
    status: str
    run_id: str
    started_at: str
    retained: str = ""
    lag: str = ""


@dataclass
class DashboardData:
    generated_at: str
    source: str
    days: int
    since: str
    runs: list[RunRow] = field(default_factory=list)
    job_runs: list[JobRun] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    """Validation (row-count checks, workbook errors), drift and quality, newest first."""
    slots: dict[str, SlotRow] = field(default_factory=dict)
    """load_type CDC: each replication slot's latest measure (retained WAL), by slot name."""

    # -- the series the charts draw ---------------------------------------------------------
    def day_labels(self) -> list[str]:
        return sorted({r.day for r in self.job_runs} | {r.day for r in self.runs} | {f.day for f in self.findings})

    def runs_chart(self) -> dict[str, Any]:
        runs = sorted(self.runs, key=lambda r: r.started_at)[-MAX_RUNS:]
        return {"labels": [r.started_at[:16].replace("T", " ") for r in runs],
                "run_ids": [r.run_id for r in runs],
                "series": {"succeeded": [r.succeeded for r in runs], "failed": [r.failed for r in runs],
                           "invalid": [r.invalid for r in runs]},
                "rows": [r.rows for r in runs], "duration_s": [r.duration_s for r in runs]}

    def _per_job_per_day(self, value, combine) -> dict[str, Any]:
        days = self.day_labels()
        index = {d: i for i, d in enumerate(days)}
        cells: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        for run in self.job_runs:
            amount = value(run)
            if amount is not None:
                cells[run.job_name][run.day].append(amount)
        totals = {job: sum(sum(v) for v in per_day.values()) for job, per_day in cells.items()}
        ranked = sorted(totals, key=lambda j: (-totals[j], j))
        series: dict[str, list[float | None]] = {}
        for job in ranked[:MAX_SERIES]:
            line: list[float | None] = [None] * len(days)
            for day, values in cells[job].items():
                line[index[day]] = combine(values)
            series[job] = line
        if len(ranked) > MAX_SERIES:
            rest: list[float | None] = [None] * len(days)
            for job in ranked[MAX_SERIES:]:
                for day, values in cells[job].items():
                    rest[index[day]] = (rest[index[day]] or 0) + combine(values)
            series["(other jobs)"] = rest
        return {"labels": days, "series": series}

    def rows_chart(self) -> dict[str, Any]:
        """Rows landed per job per day (sum over the day's runs)."""
        return self._per_job_per_day(lambda r: r.rows if r.status in LANDED else None, sum)

    def duration_chart(self) -> dict[str, Any]:
        """Mean duration of a job's successful loads per day, in seconds."""
        return self._per_job_per_day(lambda r: r.duration_s if r.status == "succeeded" else None,
                                     lambda v: round(sum(v) / len(v), 2))

    def failures_chart(self) -> dict[str, Any]:
        """Failed and rejected jobs per day, by error class."""
        days = self.day_labels()
        index = {d: i for i, d in enumerate(days)}
        series: dict[str, list[int]] = {}
        for run in self.job_runs:
            if run.status in LANDED:
                continue
            key = run.error_class or run.status
            series.setdefault(key, [0] * len(days))[index[run.day]] += 1
        return {"labels": days, "series": dict(sorted(series.items()))}

    def findings_chart(self) -> dict[str, Any]:
        """Validation, drift and quality findings per day, by kind."""
        days = self.day_labels()
        index = {d: i for i, d in enumerate(days)}
        series: dict[str, list[int]] = {}
        for finding in self.findings:
            series.setdefault(finding.kind, [0] * len(days))[index[finding.day]] += 1
        return {"labels": days, "series": dict(sorted(series.items()))}

    # -- tables and tiles ----------------------------------------------------------------------
    def latest_per_job(self) -> list[dict[str, Any]]:
        latest: dict[str, JobRun] = {}
        last_ok: dict[str, str] = {}
        for run in sorted(self.job_runs, key=lambda r: r.started_at):
            if run.status in ("skipped", "recovered") and run.job_name in latest:
                continue  # a skip (already running, a failed dependency) did not load: the last load stands
            latest[run.job_name] = run
            if run.status == "succeeded":
                last_ok[run.job_name] = run.started_at
        rows = [{**asdict(run), "last_success": last_ok.get(name, "")} for name, run in latest.items()]
        return sorted(rows, key=lambda r: (r["status"] == "succeeded", r["job_name"]))

    def failures(self) -> list[dict[str, Any]]:
        failed = [asdict(r) for r in self.job_runs if r.status not in LANDED]
        return sorted(failed, key=lambda r: r["started_at"], reverse=True)[:MAX_TABLE_ROWS]

    def tiles(self) -> dict[str, Any]:
        jobs = len(self.job_runs)
        ok = sum(1 for r in self.job_runs if r.status in LANDED)
        last = max(self.runs, key=lambda r: r.started_at, default=None)
        return {"runs": len(self.runs), "job_runs": jobs, "succeeded": ok, "failed": jobs - ok,
                "success_pct": round(100.0 * ok / jobs, 1) if jobs else None,
                "rows": sum(r.rows for r in self.job_runs),
                "findings": len(self.findings),
                "cdc_slots_over": sum(1 for slot in self.slots.values() if slot.status == "over_threshold"),
                "last_run": asdict(last) if last else None}

    def to_page(self) -> dict[str, Any]:
        """The JSON the page embeds."""
        return {"generated_at": self.generated_at, "source": self.source, "days": self.days, "since": self.since,
                "tiles": self.tiles(), "charts": {"runs": self.runs_chart(), "rows": self.rows_chart(),
                                                  "duration": self.duration_chart(),
                                                  "failures": self.failures_chart(),
                                                  "findings": self.findings_chart()},
                "latest": self.latest_per_job(), "failures": self.failures(),
                "cdc_slots": [asdict(self.slots[name]) for name in sorted(self.slots)],
                "findings": [asdict(f) for f in self.findings[:MAX_TABLE_ROWS]]}


# -- building it from the audit trail ------------------------------------------------------------
def _job_run(row: dict[str, Any], fallback_started: str) -> JobRun:
    started = str(row.get("started_at") or fallback_started or "")
    moment = _utc(started)
    day = moment.strftime("%Y-%m-%d") if moment else str(row.get("execution_date") or "")[:10]
    rowcount = row.get("rowcount") if isinstance(row.get("rowcount"), dict) else {}
    rows = row.get("rows_processed", row.get("rows", 0))
    return JobRun(run_id=str(row.get("run_id") or ""), job_name=str(row.get("job_name") or ""),
                  started_at=moment.isoformat() if moment else started, day=day,
                  status=str(row.get("status") or ""), rows=_int(rows), duration_s=_float(row.get("duration_s")),
                  error_class=str(row.get("error_class") or ""),
                  error_message=_text(row.get("error_message") or ""),
                  rowcount_status=str(rowcount.get("status") or row.get("rowcount_status") or ""),
                  rowcount_message=_text(rowcount.get("message") or ""))


def _finding_items(kind: str, value: Any, job_name: str) -> Iterable[tuple[str, str, str]]:
    """(job_name, status, message) for every finding in a check's output, whatever its shape:
    a string, a list, a dict with a message, or a dict of named results. Results whose status
    says they passed are not findings."""
    if value is None or value == [] or value == {}:
        return
    if isinstance(value, str):
        yield job_name, "", value
    elif isinstance(value, list):
        for item in value:
            yield from _finding_items(kind, item, job_name)
    elif isinstance(value, dict):
        name = str(value.get("job_name") or value.get("job") or job_name)
        status = str(value.get("status") or value.get("outcome") or "").lower()
        if status in OK_STATUSES or value.get("passed") is True:
            return
        nested = [value[k] for k in ("findings", "failures", "changes", "results") if k in value]
        if nested and not value.get("message"):
            for item in nested:
                for found_job, found_status, message in _finding_items(kind, item, name):
                    yield found_job, found_status or status, message
            return
        message = value.get("message") or value.get("description") or json.dumps(
            {k: v for k, v in value.items() if k not in ("job_name", "job", "kind")}, default=str, sort_keys=True)
        yield name, status, str(message)


def _summary_findings(summary: dict[str, Any], started: str, day: str) -> list[Finding]:
    run_id = str(summary.get("run_id") or "")
    found: list[Finding] = []
    seen: set[tuple[str, str, str]] = set()

    def add(kind: str, job: str, status: str, message: str) -> None:
        message = _text(message)
        if (kind, job, message) not in seen:
            seen.add((kind, job, message))
            found.append(Finding(kind, run_id, job, started, day, status, message))

    covered: set[str] = set()
    # the summary's own lists say each drift and quality finding once, as text; the jobs' raw
    # check results are read only from summaries written before those lists existed
    from_jobs = [kind for kind, key in (("drift", "drift_findings"), ("quality", "quality_failures"))
                 if key not in summary]
    for job in summary.get("jobs") or []:
        name = str(job.get("job_name") or "")
        for label, key in (("row count", "rowcount"), ("values", "values")):
            check = job.get(key) or {}
            if isinstance(check, dict) and check.get("status") not in (None, "", "ok", "skipped"):
                add(label, name, str(check["status"]), check.get("message") or check["status"])
                covered.add(name)
        for kind in from_jobs:
            for job_name, status, message in _finding_items(kind, job.get(kind), name):
                add(kind, job_name, status, message)
    for warning in summary.get("validation_warnings") or []:
        name = str(warning).split(":", 1)[0]
        if name not in covered:
            add("row count", name, "", str(warning))
    for kind, key in (("drift", "drift_findings"), ("quality", "quality_failures")):
        for text in summary.get(key) or []:  # "<job>: <what>": the job's name, then the finding
            job_name, _, message = str(text).partition(": ")
            add(kind, job_name, "", message or str(text))
    for item in summary.get("findings") or []:  # the alerts' shape: {kind, job_name, message}
        if isinstance(item, dict):
            add(str(item.get("kind") or "finding"), str(item.get("job_name") or ""), str(item.get("status") or ""),
                str(item.get("message") or ""))
    for error in summary.get("config_errors") or []:
        add("workbook", "", "error", str(error))
    return found


def build(summaries: Iterable[dict[str, Any]], audit_rows: Iterable[dict[str, Any]], *, days: int,
          source: str, now: datetime | None = None) -> DashboardData:
    """The dashboard of the runs started in the last `days` days. A run is taken from its
    summary; runs that only have audit rows (a summary lost or not yet written) from those."""
    now = now or datetime.now(timezone.utc)
    since = now - timedelta(days=days)
    data = DashboardData(generated_at=now.isoformat(timespec="seconds"), source=source, days=days,
                         since=since.isoformat(timespec="seconds"))
    by_run: dict[str, dict[str, Any]] = {}
    for summary in summaries:
        started = _utc(summary.get("started_at"))
        if started is None or not since < started <= now + timedelta(days=1):
            continue
        by_run[str(summary.get("run_id"))] = summary
    rows_by_run: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in audit_rows:
        rows_by_run[str(row.get("run_id") or "")].append(row)

    for run_id, summary in by_run.items():
        started = _utc(summary["started_at"])
        day = started.strftime("%Y-%m-%d")
        jobs = [_job_run({**job, "run_id": run_id}, summary["started_at"]) for job in summary.get("jobs") or []]
        listed = {j.job_name for j in jobs}
        jobs += [_job_run(row, summary["started_at"]) for row in rows_by_run.get(run_id, [])
                 if row.get("job_name") not in listed]
        data.job_runs += jobs
        data.runs.append(_run_row(run_id, started, _utc(summary.get("finished_at")), jobs))
        data.findings += _summary_findings(summary, started.isoformat(), day)
        _add_slots(data, summary, run_id, started.isoformat())

    for run_id, rows in rows_by_run.items():  # runs with audit rows but no summary
        if run_id in by_run:
            continue
        jobs = [_job_run(row, "") for row in rows]
        moments = [_utc(j.started_at) for j in jobs if _utc(j.started_at)]
        if not moments or not since < min(moments) <= now + timedelta(days=1):
            continue
        data.job_runs += jobs
        finished = max((_utc(r.get("finished_at")) for r in rows if _utc(r.get("finished_at"))), default=None)
        data.runs.append(_run_row(run_id, min(moments), finished, jobs))
        for job in jobs:
            if job.rowcount_status not in ("", "ok"):
                data.findings.append(Finding("row count", run_id, job.job_name, job.started_at, job.day,
                                             job.rowcount_status, f"row count {job.rowcount_status}"))
    data.runs.sort(key=lambda r: r.started_at, reverse=True)
    data.job_runs.sort(key=lambda r: (r.started_at, r.job_name))
    data.findings.sort(key=lambda f: (f.started_at, f.kind, f.job_name), reverse=True)
    return data


def _add_slots(data: DashboardData, summary: dict[str, Any], run_id: str, started: str) -> None:
    """Keep each slot's latest measure; a run that could not read a slot does not hide the last one."""
    for raw in summary.get("cdc_slots") or []:
        if not isinstance(raw, dict) or not raw.get("slot"):
            continue
        retained = None if raw.get("retained_wal_bytes") is None else _int(raw.get("retained_wal_bytes"))
        known = data.slots.get(str(raw["slot"]))
        if known is not None and ((known.retained_wal_bytes is not None, known.started_at)
                                  > (retained is not None, started)):
            continue  # measured beats unknown, then the latest wins
        lag = None if raw.get("lag_bytes") is None else _int(raw.get("lag_bytes"))
        data.slots[str(raw["slot"])] = SlotRow(
            slot=_text(raw["slot"]), connection=_text(raw.get("connection") or ""),
            jobs=_text(", ".join(str(j) for j in raw.get("jobs") or [])), retained_wal_bytes=retained, lag_bytes=lag,
            threshold_bytes=_int(raw.get("threshold_bytes")), status=_text(raw.get("status") or "unknown"),
            run_id=run_id, started_at=started, retained=human_bytes(retained), lag=human_bytes(lag))


def _run_row(run_id: str, started: datetime, finished: datetime | None, jobs: list[JobRun]) -> RunRow:
    counts = Counter(j.status for j in jobs)
    return RunRow(run_id=run_id, started_at=started.isoformat(), day=started.strftime("%Y-%m-%d"),
                  duration_s=round((finished - started).total_seconds(), 1) if finished else 0.0,
                  total=len(jobs), succeeded=counts.get("succeeded", 0), failed=counts.get("failed", 0),
                  invalid=counts.get("invalid", 0), rows=sum(j.rows for j in jobs))

"""Dry run: what a run would do, in which wave, from which watermark; nothing is loaded.

The plan is the real one (ingest/plan/planner.py: the same selection, schedules, waves). The watermark
an INCREMENTAL job would start from is read where the load reads it: dlt's state in the lake
(`sync_destination` into a throw-away working folder, so no pipeline in use is touched); when
the lake has no state for the job yet, the workbook's last_watermark seeds its first load
(unless the write-back took it from another lake: ingest/plan/load_modes.py first_load_start).
Reading the lake is the only I/O besides the workbook and the audit trail; sources are not
contacted (except one query per load_type CDC connection: its replication slot's lag, with a
short connect timeout; unreachable says so) and nothing is written.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from ingest.core.classify import safe_message
from ingest.config.model import JobConfig
from ingest.lake.identity import lake_identity
from ingest.plan.load_modes import NORMAL, describe as describe_mode, first_load_start, load_mode
from ingest.plan.planner import Plan
from ingest.core.redact import redact
from ingest.core.settings import Settings

log = logging.getLogger("ingest.dry_run")
StateReader = Callable[[JobConfig, Settings], Any]
SlotReader = Callable[[str], dict[str, Any]]
OwnerReader = Callable[[list[JobConfig], Settings, tuple[str, ...]], dict[str, str]]
SLOT_TIMEOUT_S = 5


@dataclass
class PlannedJob:
    job_name: str
    wave: int
    """1 for the first wave."""
    source: str
    target: str
    load: str
    """FULL, INCREMENTAL, or the run's full refresh / backfill."""
    start_from: str | None
    """INCREMENTAL: the watermark the load starts from and where that value comes from."""
    reason: str
    """Why the job is in the run (due by its schedule, selected, re-run...)."""
    depends_on: list[str] = field(default_factory=list)
    chunks: str | None = None
    """How a chunked job splits this load (README "Chunked loads"); None: one stream."""
    owner: str | None = None
    """When another job owns one of its lake tables: "REFUSED: ..." or "takes over ..." (--take-over)."""


@dataclass
class PlanReport:
    run_id: str
    planned_at: str
    parameters: dict[str, Any]
    waves: list[list[str]]
    jobs: list[PlannedJob]
    skipped: dict[str, str]
    invalid: list[dict[str, str]]
    config_errors: list[str]
    dry_run: bool = True
    cdc_slots: list[dict[str, Any]] = field(default_factory=list)
    """load_type CDC: each connection's replication slot as the server reports it now, or why not."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def lake_watermark(job: JobConfig, settings: Settings) -> Any:
    """The job's incremental cursor as stored in the lake (dlt state), as text, or None."""
    from ingest.load import lake_last_value, watermark_text

    return watermark_text(lake_last_value(job, settings))


def _source(job: JobConfig) -> str:
    if job.api is not None:
        return f"rest_api GET {job.api.base_url}/{job.api.path.lstrip('/')} ({job.api.paginator.value})"
    schema = f"{job.source_schema}." if job.source_schema else ""
    return f"{job.source_type.value} {job.connection} {schema}{job.source_table}"


@dataclass(frozen=True)
class _Start:
    """Where an INCREMENTAL load starts, in words, and what the words say."""

    text: str | None = None
    from_lake_state: bool = False
    """The lake holds dlt state for the job: it continues from there."""
    from_nothing: bool = False
    """Neither lake state nor a workbook last_watermark: its first load."""


def _start_from(job: JobConfig, plan: Plan, settings: Settings, read_state: StateReader | None) -> _Start:
    if not job.is_incremental:
        return _Start()
    mode = load_mode(job, plan.run)
    if mode.is_full_refresh:
        return _Start("the beginning (force FULL resets the state)")
    if mode.is_backfill:
        return _Start(f"{mode.window.start} up to {mode.window.end} (exclusive), outside the job's state")
    if read_state is not None:
        try:
            value = read_state(job, settings)
        except Exception as exc:  # the plan is still worth showing without it
            log.warning("dry run: lake state of %s not readable: %s", job.job_name, safe_message(exc))
            return _Start(f"unknown: the lake state could not be read ({type(exc).__name__})")
        if value is not None:
            return _Start(f"{value} (dlt state in the lake)", from_lake_state=True)
    start = first_load_start(job, lake_identity(settings))
    if start.value is not None:
        return _Start(f"{start.value} (workbook last_watermark: no state in the lake yet)")
    if start.why is not None:
        return _Start(f"the beginning: {start.why}", from_nothing=True)
    return _Start("the beginning (no state in the lake, no last_watermark)", from_nothing=True)


def slot_lag(connection: str) -> dict[str, Any]:
    from ingest.sources.postgres_cdc.admin import slot_lag as read_lag

    return read_lag(connection, timeout_s=SLOT_TIMEOUT_S)


def _slots(plan: Plan, settings: Settings, read_slot: SlotReader | None) -> list[dict[str, Any]]:
    """Each CDC connection's slot (the one query a plan sends a source); never fails the plan."""
    connections = sorted({job.connection or "" for job in plan.jobs if job.is_cdc})
    found = []
    for connection in connections if read_slot is not None else []:
        jobs = sorted(job.job_name for job in plan.jobs if job.is_cdc and job.connection == connection)
        try:
            lag = dict(read_slot(connection))
        except Exception as exc:  # unreachable, no credentials, no permission: the plan is still shown
            lag = {"connection": connection, "reachable": False, "error": safe_message(exc),
                   "text": f"unreachable: {type(exc).__name__}: {safe_message(exc)}"}
        else:
            lag.update(reachable=True, text=_slot_text(lag, settings.cdc_lag_alert_bytes))
        found.append({**lag, "connection": connection, "jobs": jobs})
    return found


def _slot_text(lag: dict[str, Any], threshold: int) -> str:
    from ingest.records.cdc_slots import human_bytes

    if not lag.get("exists"):
        return f"no slot {lag.get('slot')} yet: the first run creates it from a snapshot"
    over = int(lag.get("retained_wal_bytes") or 0) > threshold
    return (f"slot {lag.get('slot')} retains {human_bytes(lag.get('retained_wal_bytes'))} of WAL, lake"
            f" {human_bytes(lag.get('lag_bytes'))} behind"
            + (f" (OVER the alert threshold {human_bytes(threshold)})" if over else ""))


def _chunks(job: JobConfig, plan: Plan, start: _Start) -> str | None:
    """A chunked job loads in chunks unless it is an INCREMENTAL load continuing from the
    lake's state (ingest/drivers/chunks/tasks.py split_task); a CDC job's snapshot only."""
    if job.chunk_size is None:
        return None
    if job.is_incremental and load_mode(job, plan.run).kind == NORMAL and start.from_lake_state:
        return None
    size = job.chunk_size
    how = f"in {size.amount} chunks" if size.unit == "chunks" else f"in chunks of about {size.amount:,} rows"
    if job.is_cdc:
        return f"its initial snapshot {how} by the table's pages (when the slot starts anew)"
    split = f"by {job.chunk_column}" if job.chunk_column else "by the single-column integer primary key"
    first = " (its first load: no state in the lake)" if start.from_nothing else ""
    return f"{how} {split}{first}"


def lake_owners(jobs: list[JobConfig], settings: Settings, take_over: tuple[str, ...]) -> dict[str, str]:
    """Jobs whose lake tables another job owns (ingest/lake/owners.py); never fails the plan."""
    from ingest.lake.owners import owner_notes

    try:
        return owner_notes(jobs, settings, take_over)
    except Exception as exc:  # the plan is still worth showing without it
        log.warning("dry run: lake table owners not readable: %s", safe_message(exc))
        return {job.job_name: f"owners unknown: the lake could not be read ({type(exc).__name__})" for job in jobs}


def describe_plan(plan: Plan, settings: Settings, read_state: StateReader | None = lake_watermark,
                  read_slot: SlotReader | None = slot_lag,
                  read_owners: OwnerReader | None = lake_owners) -> PlanReport:
    """The plan as a person reads it; `read_state=None` skips the lake (the workbook's values)."""
    wave_of = {name: number for number, wave in enumerate(plan.wave_names(), start=1) for name in wave}
    jobs = sorted(plan.jobs, key=lambda j: (wave_of[j.job_name], plan.jobs.index(j)))
    starts = {job.job_name: _start_from(job, plan, settings, read_state) for job in jobs}
    owners = read_owners(jobs, settings, tuple(plan.run.take_over)) if read_owners and jobs else {}
    planned = [PlannedJob(job_name=job.job_name, wave=wave_of[job.job_name], source=_source(job),
                          target=job.table_name, load=describe_mode(job, plan.run),
                          start_from=starts[job.job_name].text,
                          reason=plan.reasons.get(job.job_name, ""), depends_on=list(job.depends_on),
                          chunks=_chunks(job, plan, starts[job.job_name]), owner=owners.get(job.job_name))
               for job in jobs]
    return PlanReport(run_id=plan.run.run_id, planned_at=plan.run.started_at, parameters=dict(plan.request),
                      waves=plan.wave_names(), jobs=planned, skipped=dict(plan.skipped),
                      invalid=[{"job_name": r.job_name, "message": r.error_message or ""} for r in plan.invalid],
                      config_errors=list(plan.config_errors), cdc_slots=_slots(plan, settings, read_slot))


def format_plan(report: PlanReport) -> str:
    """The text `python -m ingest plan` prints."""
    active = {k: v for k, v in report.parameters.items() if v not in (None, False, [], {})}
    lines = [f"Dry run at {report.planned_at}: nothing is loaded"
             + (f"  parameters: {active}" if active else "")]
    for number, wave in enumerate(report.waves, start=1):
        lines.append(f"wave {number}:")
        for job in (j for j in report.jobs if j.wave == number):
            start = f" from {job.start_from}" if job.start_from else ""
            after = f"; after {', '.join(job.depends_on)}" if job.depends_on else ""
            chunks = f"; {job.chunks}" if job.chunks else ""
            lines.append(f"  run   {job.job_name}: {job.source} -> {job.target} ({job.load}{start}{chunks})")
            lines.append(f"        {job.reason}{after}")
            if job.owner:
                lines.append(f"        {job.owner}")
    if not report.jobs:
        lines.append("no job would run")
    for slot in report.cdc_slots:
        lines.append(f"cdc   connection {slot['connection']} (jobs {', '.join(slot['jobs'])}): {slot['text']}")
    for name, reason in report.skipped.items():
        lines.append(f"skip  {name}: {reason}")
    for invalid in report.invalid:
        lines.append(f"invalid {invalid['job_name']}: {invalid['message']}")
    return redact("\n".join(lines))

"""Where the statuses `interrupted` and `recovered` are read (issue 32, case 5): the dashboard
counts a recovered load's rows as landed and not as a failure; an interrupted job is one a
re-run of failed jobs takes and one the failure count does not hide; the dashboard's failure
table shows an interrupted job. Real audit rows as the app writes them; no lake needed."""

from __future__ import annotations

from datetime import datetime, timezone

from ingest.dashboard.model import build
from ingest.records.history import jobs_to_rerun

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=timezone.utc)


def row(run_id: str, job: str, status: str, rows: int, error_class: str = "") -> dict[str, str]:
    return {"run_id": run_id, "job_name": job, "execution_date": "2026-03-09", "status": status,
            "rows_processed": str(rows), "started_at": "2026-03-09T02:00:00+00:00",
            "finished_at": "2026-03-09T02:00:05+00:00", "duration_s": "5.0", "error_class": error_class,
            "error_message": "", "rowcount_status": ""}


class _History:
    def __init__(self, rows: list[dict[str, str]]) -> None:
        from ingest.records.history import AuditRecord

        self.records = [AuditRecord.from_row(r) for r in rows]

    def run_records(self, run_id: str):
        return [r for r in self.records if r.run_id == run_id]


def test_a_recovered_load_counts_its_rows_and_is_no_failure():
    rows = [row("20260309T020000Z-a", "orders", "succeeded", 7),
            row("20260309T020000Z-a-recovered-1773021600.5", "orders", "recovered", 1000)]
    data = build([], rows, days=7, source="test", now=NOW)
    assert data.tiles()["failed"] == 0
    assert data.failures() == [] and data.failures_chart()["series"] == {}
    assert sum(v or 0 for series in data.rows_chart()["series"].values() for v in series) == 1007


def test_an_interrupted_job_is_a_failure_on_the_dashboard_and_rerun():
    run_id = "20260309T020000Z-b"
    rows = [row(run_id, "orders", "succeeded", 7), row(run_id, "items", "interrupted", 0, "JobInterruptedError")]
    data = build([], rows, days=7, source="test", now=NOW)
    assert [f["job_name"] for f in data.failures()] == ["items"]
    assert jobs_to_rerun(_History(rows), run_id) == ["items"]


def test_the_exit_code_of_an_interrupted_run():
    from ingest.drivers.finalize import RunSummary

    summary = RunSummary(run_id="r", started_at="", finished_at="", total=1, succeeded=0, failed=0,
                         rows_processed=0, jobs=[], interrupted=1, interrupted_by="SIGINT")
    assert summary.exit_code == 130
    summary.interrupted_by = "SIGTERM"
    assert summary.exit_code == 143
    summary.interrupted_by = None
    assert summary.exit_code == 0


def test_an_outcome_stopped_before_its_commit_is_interrupted_and_one_that_committed_is_not():
    from ingest.core import interrupts

    failed = {"job_name": "a", "status": "failed", "error_class": "PipelineStepFailed", "error_message": "x"}
    assert interrupts.interrupted_outcome(failed, stopped_before_commit=True)["status"] == "interrupted"
    assert interrupts.interrupted_outcome(failed, stopped_before_commit=False) == failed
    done = {"job_name": "a", "status": "succeeded", "rows_processed": 5}
    assert interrupts.interrupted_outcome(done, stopped_before_commit=True) == done
    chunk = {"status": "failed", "chunk": "3", "error_class": "X"}
    assert interrupts.interrupted_outcome(chunk, stopped_before_commit=True) == chunk
    stopped = {**failed, "error_class": "JobInterruptedError"}
    assert interrupts.interrupted_outcome({"results": [stopped]})["results"][0]["status"] == "interrupted"


def test_a_run_handles_stop_signals_only_while_it_runs():
    """run_local's handlers (interrupts.handling): a SIGTERM during the run is noted, not raised
    and not fatal; after the run the process's own handlers are back and the note is cleared (a
    test process or a notebook runs again afresh). A real signal to this process."""
    import os
    import signal

    from ingest.core import interrupts

    before = signal.getsignal(signal.SIGTERM)
    with interrupts.handling():
        os.kill(os.getpid(), signal.SIGTERM)
        assert interrupts.requested() == signal.SIGTERM
    assert interrupts.requested() == 0
    assert signal.getsignal(signal.SIGTERM) is before


def test_an_interrupted_run_is_not_reported_succeeded_to_telemetry():
    from ingest.alerts.telemetry import run_dimensions

    summary = {"run_id": "r", "started_at": "2026-03-09T02:00:00+00:00", "finished_at": "2026-03-09T02:01:00+00:00",
               "failed": 0, "total": 2, "succeeded": 1, "interrupted": 1, "interrupted_by": "SIGINT"}
    dimensions = run_dimensions(summary)
    assert dimensions["status"] == "interrupted" and dimensions["jobs_interrupted"] == 1

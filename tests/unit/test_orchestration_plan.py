"""Dependencies, waves, selection by tags, schedules and re-runs, as the plan computes them
from a workbook and the audit trail (a fixed clock; the audit CSV written by the real sink)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from ingest.records.audit import FileAuditSink
from ingest.config import read_workbook
from ingest.config.dependencies import find_cycles, split_wave, waves
from ingest.core.errors import ConfigError
from ingest.records.history import FileRunHistory, RunNotFoundError, jobs_to_rerun
from ingest.plan.planner import Plan, make_plan, new_run_context
from ingest.plan.request import Backfill, RequestError, RunRequest
from ingest.core.result import JobResult, JobStatus, RunContext
from tests.workbooks import job_row, write_workbook

UTC = timezone.utc


def row(name: str, **values) -> dict:
    return job_row(job_name=name, source_table=name, **values)


def test_waves_follow_dependencies_and_keep_workbook_order():
    depends = {"orders": ("customers",), "lines": ("orders", "products"), "customers": (), "products": (),
               "report": ("lines", "customers")}
    order = ["orders", "lines", "customers", "products", "report"]
    assert waves(order, depends) == [["customers", "products"], ["orders"], ["lines"], ["report"]]
    # a dependency outside the run does not hold a job back
    assert waves(["lines", "report"], depends) == [["lines"], ["report"]]
    assert waves([], depends) == []


def test_a_long_chain_needs_no_recursion():
    names = [f"j{i}" for i in range(5000)]
    depends = {name: ((names[i - 1],) if i else ()) for i, name in enumerate(names)}
    assert len(waves(list(reversed(names)), depends)) == 5000
    assert find_cycles(depends) == []


def test_cycles_are_found_once_each():
    depends = {"a": ("b",), "b": ("c",), "c": ("a",), "d": ("a",), "e": ("e",)}
    cycles = find_cycles(depends)
    assert sorted(sorted(c) for c in cycles) == [["a", "b", "c"], ["e"]]


def test_skip_after_failure_is_transitive_and_says_why():
    depends = {"b": ("a",), "c": ("b",), "d": ("x",)}
    start, skip = split_wave(["b", "d"], depends, {"a": "failed", "x": "succeeded"})
    assert start == ["d"] and skip == {"b": "not run: depends on 'a', which failed"}
    start, skip = split_wave(["c"], depends, {"a": "failed", "b": "skipped"})
    assert start == [] and skip == {"c": "not run: depends on 'b', which was skipped"}
    _, skip = split_wave(["b"], depends, {"a": "invalid"})
    assert skip["b"] == "not run: depends on 'a', which has an invalid workbook row"


def test_workbook_rejects_unknown_dependencies_and_cycles_with_their_cell(tmp_path):
    book = write_workbook(tmp_path / "w.xlsx", [
        row("customers"), row("orders", depends_on="customers"),
        row("lines", depends_on="orders, ghost"),
        row("a", depends_on="b"), row("b", depends_on="a"), row("self", depends_on="self"),
        row("after_cycle", depends_on="a"),
        row("bad_name", depends_on="Not A Name")])
    config = read_workbook(book)
    errors = sorted(str(e) for e in config.errors)
    # depends_on is column O (15th) of tests.workbooks.HEADER
    assert errors == sorted([
        "jobs!O4: depends_on names no job of the workbook: 'ghost'",
        "jobs!O5: depends_on forms a cycle: a -> b -> a",
        "jobs!O6: depends_on forms a cycle: a -> b -> a",
        "jobs!O7: depends_on forms a cycle: self -> self",
        "jobs!O9: depends_on 'Not A Name' is not a job name",
    ])
    assert [j.job_name for j in config.jobs] == ["customers", "orders", "after_cycle"]
    # the other jobs still run; the one that depends on a rejected row is skipped at run time
    plan = make_plan(config, new_run_context())
    assert plan.waves == [["customers", "after_cycle"], ["orders"]]
    assert {r.job_name for r in plan.invalid} == {"lines", "a", "b", "self", "bad_name"}


def test_schedule_and_tags_cells_are_checked(tmp_path):
    book = write_workbook(tmp_path / "w.xlsx", [
        row("a", schedule="daily at 25:00"), row("b", schedule="hourly", tags="finance, Daily"),
        row("c", schedule="0 6 * * 1-5 Europe/Amsterdam", tags="finance;eu")])
    config = read_workbook(book)
    assert sorted(str(e) for e in config.errors) == [
        "jobs!N2: schedule: daily at 25:00 is not a time of day (00:00 to 23:59)",
        "jobs!P3: tags 'Daily' is not a tag (lowercase letters, digits, _ or -, starting with a letter)"]
    job = config.job("c")
    assert job.schedule == "0 6 * * 1-5 Europe/Amsterdam" and job.tags == ("finance", "eu")
    assert type(job).from_dict(job.to_dict()) == job


def test_tags_select_jobs_and_combine_with_names(tmp_path):
    config = read_workbook(write_workbook(tmp_path / "w.xlsx", [
        row("sales_a", tags="finance"), row("sales_b", tags="ops"), row("hr", tags="finance,hr")]))
    plan = make_plan(config, new_run_context(), request=RunRequest(tags=("finance",)))
    assert [j.job_name for j in plan.jobs] == ["sales_a", "hr"] and plan.skipped == {"sales_b": "not selected"}
    both = make_plan(config, new_run_context(), request=RunRequest(jobs=("sales_*",), tags=("finance",)))
    assert [j.job_name for j in both.jobs] == ["sales_a"]
    with pytest.raises(ConfigError, match="no job in the workbook has the tag 'nope'"):
        make_plan(config, new_run_context(), request=RunRequest(tags=("nope",)))


def audit_run(audit_dir, run_id: str, statuses: dict[str, str]) -> None:
    """Rows as finalize writes them, through the real audit sink."""
    started = datetime.strptime(run_id[:16], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).isoformat()
    results = [JobResult(job_name=name, status=JobStatus(status), run_id=run_id, started_at=started)
               for name, status in statuses.items()]
    FileAuditSink(audit_dir).record(run_id, results, started[:10])


def context(when: str) -> RunContext:
    return new_run_context(datetime.fromisoformat(when).replace(tzinfo=UTC))


def test_scheduled_plan_picks_due_jobs_from_the_audit_trail(tmp_path):
    config = read_workbook(write_workbook(tmp_path / "w.xlsx", [
        row("daily_job", schedule="daily at 02:00"), row("hourly_job", schedule="hourly"),
        row("always"), row("child", schedule="daily at 02:00", depends_on="daily_job")]))
    audit = tmp_path / "audit"
    audit_run(audit, "20260105T020000Z-aaa", {"daily_job": "succeeded", "hourly_job": "succeeded",
                                              "always": "succeeded", "child": "failed"})
    history = FileRunHistory(audit)
    scheduled = RunRequest(apply_schedules=True)
    plan = make_plan(config, context("2026-01-05T02:15:00"), request=scheduled, history=history)
    assert [j.job_name for j in plan.jobs] == ["always", "child"]  # child failed: still due
    assert plan.skipped["daily_job"].startswith("not due: slot 2026-01-05T02:00Z done")
    assert "next slot 2026-01-05T03:00Z" in plan.skipped["hourly_job"]
    assert plan.reasons["always"] == "no schedule: runs every time"
    assert plan.reasons["child"] == "due: slot 2026-01-05T02:00Z (daily at 02:00), no successful run yet"
    assert plan.waves == [["always", "child"]]  # daily_job is not in the run: child does not wait

    at_three = make_plan(config, context("2026-01-05T03:00:00"), request=scheduled, history=history)
    assert [j.job_name for j in at_three.jobs] == ["hourly_job", "always", "child"]
    next_day = make_plan(config, context("2026-01-06T02:00:00"), request=scheduled, history=history)
    assert next_day.waves == [["daily_job", "hourly_job", "always"], ["child"]]

    # a manual run (no schedules) runs everything; a name filter runs the job even when not due
    manual = make_plan(config, context("2026-01-05T02:15:00"), ["daily_job"], history=history)
    assert [j.job_name for j in manual.jobs] == ["daily_job"]
    assert manual.reasons["daily_job"] == "selected (schedule not applied: manual run)"


def test_rerun_failed_takes_failed_skipped_and_invalid_jobs_of_that_run(tmp_path):
    config = read_workbook(write_workbook(tmp_path / "w.xlsx", [
        row("a"), row("b", depends_on="a"), row("c"), row("d"), row("e", load_type="SOMETIMES")]))
    audit = tmp_path / "audit"
    audit_run(audit, "20260105T020000Z-aaa", {"a": "failed", "b": "skipped", "c": "succeeded",
                                              "e": "invalid", "gone": "failed", "row_9": "invalid"})
    audit_run(audit, "20260105T030000Z-bbb", {"c": "failed"})
    history = FileRunHistory(audit)
    assert jobs_to_rerun(history, "20260105T020000Z-aaa") == ["a", "b", "e", "gone"]
    plan = make_plan(config, context("2026-01-05T04:00:00"),
                     request=RunRequest(rerun_failed="20260105T020000Z-aaa"), history=history)
    assert plan.waves == [["a"], ["b"]]
    assert [r.job_name for r in plan.invalid] == ["e"]  # still invalid: reported again
    assert plan.skipped == {"c": "not selected", "d": "not selected",
                            "gone": "in run 20260105T020000Z-aaa but no longer in the workbook"}
    assert plan.reasons["a"] == "re-run: did not succeed in run 20260105T020000Z-aaa"
    with pytest.raises(RunNotFoundError, match="no run 'nope'"):
        make_plan(config, context("2026-01-05T04:00:00"), request=RunRequest(rerun_failed="nope"),
                  history=history)


def test_plan_round_trips_through_json_with_waves_and_parameters(tmp_path):
    import json

    config = read_workbook(write_workbook(tmp_path / "w.xlsx", [
        row("a", load_type="INCREMENTAL", watermark_column="updated_at"), row("b", depends_on="a")]))
    request = RunRequest(backfill=Backfill.parse("2024-01-01", "2024-02-01T00:00:00+00:00"))
    plan = make_plan(config, context("2026-01-05T04:00:00"), request=request)
    again = Plan.from_dict(json.loads(json.dumps(plan.to_dict())))
    assert again == plan and again.run.backfill == {"start": "2024-01-01", "end": "2024-02-01T00:00:00+00:00"}
    assert again.waves == [["a"]] and again.skipped["b"].startswith("backfill")


@pytest.mark.parametrize("body, message", [
    ({"jobs": ["a"], "rerun_failed": "x"}, "do not combine it with jobs or tags"),
    ({"force_full": True, "backfill": {"start": 1, "end": 5}}, "exclude each other"),
    ({"backfill": {"start": "2024-02-01", "end": "2024-01-01"}}, "must be before end"),
    ({"backfill": {"start": 1, "end": "2024-01-01"}}, "not of one kind"),
    ({"backfill": {"start": "yesterday", "end": "2024-01-01"}}, "backfill start"),
    ({"backfill": {"start": "2024-01-01"}}, "backfill end is missing"),
    ({"force_full": "yes"}, "force_full must be true or false"),
    ({"force_full": True}, "name the jobs one by one"),
    ({"force_full": True, "tags": ["finance"]}, "name the jobs one by one"),
    ({"force_full": True, "jobs": ["sales_*"]}, "name the jobs one by one"),
    ({"jobs": ["Orders; DROP"]}, "is not a job name or glob"),
    ({"forcefull": True}, "unknown parameter"),
])
def test_malformed_run_parameters_name_the_parameter(body, message):
    with pytest.raises(RequestError, match=message):
        RunRequest.from_dict(body)


def test_scope_digest_changes_with_every_scope_parameter():
    base = RunRequest()
    variants = [RunRequest(jobs=("a",)), RunRequest(tags=("a",)), RunRequest(jobs=("b",), force_full=True),
                RunRequest(rerun_failed="r1"), RunRequest(backfill=Backfill.parse(1, 2))]
    digests = {base.scope_digest()} | {v.scope_digest() for v in variants}
    assert len(digests) == 6
    assert RunRequest(jobs=("b", "a")).scope_digest() == RunRequest(jobs=("a", "b")).scope_digest()
    assert RunRequest(apply_schedules=True).is_default and base.is_default

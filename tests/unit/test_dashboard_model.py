"""The dashboard's numbers, without a browser: the period, runs that only have audit rows,
findings as the fan-in writes them (each once, baselines none), secrets, and JSON that cannot break the page."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from ingest.dashboard.model import MAX_SERIES, build
from ingest.dashboard.render import embed_json, render_html
from ingest.core.redact import register_secret

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=timezone.utc)


def job(name, status="succeeded", rows=10, duration=1.0, started=None, **extra):
    return {"job_name": name, "status": status, "rows_processed": rows, "duration_s": duration,
            "started_at": (started or NOW - timedelta(hours=1)).isoformat(), "error_class": None,
            "error_message": None, **extra}


def summary(run_id, started, jobs, **extra):
    return {"run_id": run_id, "started_at": started.isoformat(),
            "finished_at": (started + timedelta(minutes=3)).isoformat(), "jobs": jobs, **extra}


def test_only_runs_inside_the_period_count():
    old = NOW - timedelta(days=8)
    data = build([summary("old", old, [job("a", started=old)]),
                  summary("new", NOW - timedelta(days=1), [job("a", started=NOW - timedelta(days=1))])],
                 [], days=7, source="test", now=NOW)
    assert [r.run_id for r in data.runs] == ["new"]
    assert data.runs[0].duration_s == 180.0


def test_a_run_with_audit_rows_but_no_summary_is_shown():
    rows = [{"run_id": "r1", "job_name": "a", "execution_date": "2026-03-09", "status": "failed",
             "rows_processed": "0", "started_at": "2026-03-09T02:00:00+00:00", "finished_at": "2026-03-09T02:00:05+00:00",
             "duration_s": "5.0", "error_class": "TransientSourceError", "error_message": "refused",
             "rowcount_status": ""},
            {"run_id": "r1", "job_name": "b", "execution_date": "2026-03-09", "status": "succeeded",
             "rows_processed": "7", "started_at": "2026-03-09T02:00:01+00:00", "finished_at": "2026-03-09T02:00:02+00:00",
             "duration_s": "1.0", "error_class": "", "error_message": "", "rowcount_status": "mismatch"}]
    data = build([], rows, days=7, source="test", now=NOW)
    assert [(r.run_id, r.total, r.failed, r.rows) for r in data.runs] == [("r1", 2, 1, 7)]
    assert data.failures_chart()["series"] == {"TransientSourceError": [1]}
    assert [(f.kind, f.job_name) for f in data.findings] == [("row count", "b")]


def fan_in_summary(run_id, started, results, **extra):
    """A run summary as the fan-in writes it: the jobs' results, and the summary's own lists
    built by the same code (ingest/records/check_results.py findings)."""
    from ingest.records.check_results import findings

    quality_failures, drift_findings = findings(results)
    return summary(run_id, started, [r.to_dict() for r in results], quality_failures=quality_failures,
                   drift_findings=drift_findings, **extra)


def result(name, **fields):
    from ingest.core.result import JobResult, JobStatus

    return JobResult(job_name=name, status=JobStatus.SUCCEEDED, run_id="r", rows_processed=10,
                     started_at=(NOW - timedelta(hours=1)).isoformat(), **fields)


def test_each_real_finding_counts_once_and_passed_checks_and_baselines_not_at_all():
    from ingest.checks.schema_drift import DriftReport

    rule = {"place": "quality_rules!B2", "rule": "unique", "column": "id", "argument": None, "severity": "warn",
            "status": "failed", "observed": 2, "rows": 10, "detail": "2 duplicate ids"}
    passed = {**rule, "place": "quality_rules!B3", "status": "passed", "detail": ""}
    results = [
        result("a", rowcount={"status": "mismatch", "message": "source 12, landed 10"},
               drift=DriftReport(status="baseline").to_dict(), quality=[passed]),
        result("b", drift=DriftReport(status="changed", added=[{"name": "c", "type": "text"}]).to_dict(),
               quality=[rule], values={"status": "ok", "message": ""}),
        result("c", drift=DriftReport(status="unchanged").to_dict(),
               values={"status": "mismatch", "message": "column amount: max is 9.5 in the source, 9 in the lake"})]
    data = build([fan_in_summary("r", NOW - timedelta(hours=2), results,
                                 validation_warnings=["a: row count mismatch: source 12, landed 10"],
                                 config_errors=["jobs!C4: unknown source_type 'db2'"])],
                 [], days=7, source="test", now=NOW)
    found = sorted((f.kind, f.job_name, f.message) for f in data.findings)
    assert found == sorted([
        ("row count", "a", "source 12, landed 10"),  # the warning repeats it: once
        ("quality", "b", "quality_rules!B2 unique(id) failed [warn]: 2 duplicate ids"),
        ("drift", "b", "column added: c (text) [warn]"),
        ("values", "c", "column amount: max is 9.5 in the source, 9 in the lake"),
        ("workbook", "", "jobs!C4: unknown source_type 'db2'"),
    ])
    assert not any(f.message.startswith("{") for f in data.findings)  # no raw JSON shown
    assert data.tiles()["findings"] == 5


def test_a_run_with_only_first_schema_snapshots_has_no_findings():
    from ingest.checks.schema_drift import DriftReport

    results = [result(n, drift=DriftReport(status="baseline").to_dict(), rowcount={"status": "ok"}) for n in "ab"]
    data = build([fan_in_summary("r", NOW - timedelta(hours=2), results)], [], days=7, source="test", now=NOW)
    assert data.findings == [] and data.tiles()["findings"] == 0


def test_the_latest_status_is_the_last_load_that_ran_not_a_skip():
    runs = [summary("r1", NOW - timedelta(hours=3), [job("a", status="failed", started=NOW - timedelta(hours=3))]),
            summary("r2", NOW - timedelta(hours=2), [job("a", status="skipped", started=NOW - timedelta(hours=2))])]
    latest = build(runs, [], days=7, source="test", now=NOW).latest_per_job()
    assert [(r["job_name"], r["status"]) for r in latest] == [("a", "failed")]


def test_many_jobs_are_drawn_as_the_biggest_plus_the_rest():
    started = NOW - timedelta(hours=1)
    jobs = [job(f"job_{i:02d}", rows=i + 1) for i in range(MAX_SERIES + 5)]
    chart = build([summary("r", started, jobs)], [], days=1, source="t", now=NOW).rows_chart()
    assert len(chart["series"]) == MAX_SERIES + 1
    assert "job_16" in chart["series"] and "job_00" not in chart["series"]
    assert sum(v[0] for v in chart["series"].values()) == sum(range(1, MAX_SERIES + 6))


def test_secrets_are_masked_and_markup_in_the_audit_cannot_break_the_page():
    register_secret("S3cr3t-Dash-Unit")
    started = NOW - timedelta(hours=1)
    evil = "</script><script>alert(1)</script> password=hunter22 S3cr3t-Dash-Unit"
    data = build([summary("r", started, [job("a", status="failed", error_class="PermanentSourceError",
                                             error_message=evil)])], [], days=1, source="t", now=NOW)
    html = render_html(data)
    assert "S3cr3t-Dash-Unit" not in html and "hunter22" not in html
    assert "<script>alert(1)" not in html
    assert html.count("</script>") == 3  # data, Chart.js, the page's script
    embedded = html.split('<script id="dashboard-data" type="application/json">')[1].split("</script>")[0]
    assert json.loads(embedded)["failures"][0]["error_message"].startswith("</script><script>alert(1)")
    assert "\\u003c/script" in embed_json({"x": "</script>"})

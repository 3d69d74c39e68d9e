"""Data-quality rules against real PostgreSQL data with planted violations, through the local
runner: each rule reports exactly what was planted; a failing `fail` rule fails the job while
its files stay in the lake; results reach the audit (check_results.csv) and the summary."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from ingest.records.audit import read_audit
from ingest.records.check_results import read_check_rows
from ingest.config import read_workbook
from ingest.drivers.finalize import format_summary
from ingest.plan.planner import make_plan, new_run_context
from ingest.drivers.local.runner import run_local
from tests.integration.conftest import sql
from tests.workbooks import job_row, write_workbook

ROWS = 200
DUPLICATES = 3  # copies of id 30 (twice) and id 31 (once)


def create_customers(postgres, schema: str) -> None:
    """200 clean customers, then violations planted at known ids (nothing else violates)."""
    sql(postgres, f"""
        CREATE TABLE {schema}.customers (
            id bigint NOT NULL, email text, signup_date text, signup_at date, last_seen timestamptz,
            age integer, amount numeric(10,2), status text, code text, ext_id text, note text);
        INSERT INTO {schema}.customers
        SELECT g, 'user.' || g || '@example.com', to_char(date '2024-01-01' + g, 'YYYY-MM-DD'),
               date '2024-01-01' + g, timestamptz '2024-06-01 00:00+00' + g * interval '1 hour',
               20 + g % 50, g * 1.25, (ARRAY['new', 'active', 'closed'])[1 + g % 3],
               'ABC-' || lpad(g::text, 4, '0'), md5(g::text)::uuid::text,
               CASE WHEN g % 4 = 0 THEN NULL ELSE 'note ' || g END
        FROM generate_series(1, {ROWS}) g;
        UPDATE {schema}.customers SET email = NULL WHERE id IN (1, 2, 3, 4);
        UPDATE {schema}.customers SET email = v FROM (VALUES (5, 'no-at-sign'), (6, 'a@b'), (7, 'two@@x.com'),
            (8, 'sp ace@x.com'), (9, '@x.com')) AS bad(i, v) WHERE id = i;
        UPDATE {schema}.customers SET signup_date = v FROM (VALUES (10, '2024-02-30'), (11, '2024-1-5'),
            (12, 'yesterday')) AS bad(i, v) WHERE id = i;
        UPDATE {schema}.customers SET age = v FROM (VALUES (13, -1), (14, -5), (15, 121), (16, 150), (17, 999))
            AS bad(i, v) WHERE id = i;
        UPDATE {schema}.customers SET status = v FROM (VALUES (18, 'pending'), (19, 'NEW'), (20, 'closed '),
            (21, 'unknown')) AS bad(i, v) WHERE id = i;
        UPDATE {schema}.customers SET code = v FROM (VALUES (22, 'AB-0001'), (23, 'ABC-12345')) AS bad(i, v)
            WHERE id = i;
        UPDATE {schema}.customers SET ext_id = 'not-a-uuid' WHERE id = 24;
        UPDATE {schema}.customers SET signup_at = v::date FROM (VALUES (25, '2023-12-31'), (26, '2000-01-01'))
            AS bad(i, v) WHERE id = i;
        UPDATE {schema}.customers SET last_seen = '2031-01-01 00:00+00' WHERE id = 27;
        UPDATE {schema}.customers SET amount = -0.01 WHERE id = 28;
        INSERT INTO {schema}.customers SELECT c.* FROM {schema}.customers c, generate_series(1, 2) WHERE c.id = 30;
        INSERT INTO {schema}.customers SELECT c.* FROM {schema}.customers c WHERE c.id = 31;
    """)


# (column, rule, argument, severity, expected status, expected observed)
RULES = [
    ("email", "not_null", None, "fail", "failed", 4),
    ("id", "unique", None, "fail", "failed", 3),
    ("email", "format", "email", "warn", "failed", 5),
    ("signup_date", "format", "date", "warn", "failed", 3),
    ("age", "min", 0, "warn", "failed", 2),
    ("age", "max", 120, "warn", "failed", 3),
    ("status", "allowed_values", "new,active,closed", "warn", "failed", 4),
    ("code", "regex", r"[A-Z]{3}-\d{4}", "warn", "failed", 2),
    ("ext_id", "format", "uuid", "warn", "failed", 1),
    ("signup_at", "min", "2024-01-01", "warn", "failed", 2),
    ("last_seen", "max", "2030-01-01T00:00:00", "warn", "failed", 1),
    ("amount", "min", 0, "warn", "failed", 1),
    ("note", "max_null_pct", 20, "warn", "failed", round(50 * 100 / (ROWS + DUPLICATES), 4)),
    ("note", "max_null_pct", 25, "warn", "passed", round(50 * 100 / (ROWS + DUPLICATES), 4)),
    (None, "min_rows", 1000, "warn", "failed", ROWS + DUPLICATES),
    (None, "min_rows", 100, "fail", "passed", ROWS + DUPLICATES),
    ("name", "not_null", None, "warn", "passed", 0),
    ("emial", "not_null", None, "warn", "error", None),
]


def rule_rows(job: str, rules=RULES) -> list[dict]:
    return [{"job_name": job, "column": column, "rule": rule, "argument": argument, "severity": severity}
            for column, rule, argument, severity, _, _ in rules]


def run(book: Path, settings):
    return run_local(make_plan(read_workbook(book), new_run_context()), settings, book)


def test_each_rule_catches_exactly_what_was_planted(postgres, pg_schema, settings, tmp_path):
    create_customers(postgres, pg_schema)
    sql(postgres, f"ALTER TABLE {pg_schema}.customers ADD COLUMN name text DEFAULT 'x'")
    sql(postgres, f"CREATE TABLE {pg_schema}.clean AS SELECT * FROM {pg_schema}.customers WHERE id > 40")
    rules = rule_rows("customers") + [
        {"job_name": "clean", "column": "email", "rule": "format", "argument": "email", "severity": "fail"},
        {"job_name": "clean", "column": "age", "rule": "max", "argument": 120, "severity": "fail"},
        {"job_name": "warned", "column": "email", "rule": "not_null", "severity": "warn"}]
    book = write_workbook(tmp_path / "w.xlsx", [
        job_row(job_name="customers", source_schema=pg_schema, source_table="customers", primary_key=None),
        job_row(job_name="clean", source_schema=pg_schema, source_table="clean", primary_key=None),
        job_row(job_name="warned", source_schema=pg_schema, source_table="customers", target_table="warned",
                primary_key=None)], rules=rules)
    assert read_workbook(book).errors == []
    summary = run(book, settings)
    by_name = {j["job_name"]: j for j in summary.jobs}
    job = by_name["customers"]

    results = job["quality"]
    assert [(r["column"], r["rule"], r["status"], r["observed"]) for r in results] == \
        [(c or "", rule, status, observed) for c, rule, _, _, status, observed in RULES]
    assert all(r["rows"] == ROWS + DUPLICATES for r in results)
    missing = results[-1]
    assert missing["detail"].startswith(f"quality_rules!B{len(RULES) + 1}: column 'emial' is not in the table")
    assert results[1]["detail"] == f"3 duplicate rows over 2 repeated keys in {ROWS + DUPLICATES} rows"
    assert results[0]["place"] == "quality_rules!C2"

    # two `fail` rules failed: the job is failed, its data stays in the lake, flagged
    assert job["status"] == "failed" and job["error_class"] == "DataQualityError"
    assert "2 quality rule(s) with severity fail did not pass" in job["error_message"]
    assert "quality_rules!C2 not_null(email) failed" in job["error_message"]
    assert job["load_id"] in job["error_message"] and job["rows_processed"] == ROWS + DUPLICATES
    assert job["attempts"] == 1  # a check failure is never retried
    landed = sum(pq.read_metadata(Path(settings.destination, f)).num_rows for f in job["files"])
    assert landed == ROWS + DUPLICATES

    # `warn` rules that fail keep a job succeeded; a clean table passes its `fail` rules
    assert by_name["warned"]["status"] == "succeeded"
    assert [r["status"] for r in by_name["warned"]["quality"]] == ["failed"]
    assert by_name["clean"]["status"] == "succeeded"
    assert [(r["status"], r["observed"]) for r in by_name["clean"]["quality"]] == [("passed", 0), ("passed", 0)]
    assert (summary.succeeded, summary.failed, summary.exit_code) == (2, 1, 1)

    # the summary lists every rule that did not pass, with place and severity
    failing = [f for f in summary.quality_failures if f.startswith("customers:")]
    assert len(failing) == sum(1 for r in RULES if r[4] != "passed")
    assert "customers: quality_rules!C2 not_null(email) failed [fail]: 4 of 203 rows are NULL" in failing
    assert "warned: quality_rules!C22 not_null(email) failed [warn]: 4 of 203 rows are NULL" in summary.quality_failures
    text = format_summary(summary)
    assert "quality: customers: quality_rules!C3 unique(id) failed [fail]" in text

    # the audit: the job row is failed with its partition; one check row per rule
    (audit,) = [r for r in read_audit(settings.audit_dir) if r["job_name"] == "customers"]
    assert (audit["status"], audit["error_class"], audit["load_id"]) == ("failed", "DataQualityError", job["load_id"])
    assert audit["partition_path"] == job["partition_path"]
    checks = [r for r in read_check_rows(settings.audit_dir) if r["job_name"] == "customers" and r["check"] == "quality"]
    assert [(r["rule"], r["status"], r["observed"]) for r in checks] == \
        [(rule, status, "" if observed is None else str(observed)) for _, rule, _, _, status, observed in RULES]
    assert {r["run_id"] for r in checks} == {summary.run_id} and summary.checks_path.endswith("check_results.csv")


def test_incremental_rules_see_only_the_new_rows(postgres, pg_schema, settings, tmp_path):
    create_customers(postgres, pg_schema)
    book = write_workbook(tmp_path / "w.xlsx", [job_row(
        job_name="customers", source_schema=pg_schema, source_table="customers", primary_key=None,
        load_type="INCREMENTAL", watermark_column="last_seen")], rules=[
        {"job_name": "customers", "column": "email", "rule": "not_null", "severity": "fail"},
        {"job_name": "customers", "rule": "min_rows", "argument": 1, "severity": "warn"}])
    first = run(book, settings)
    assert first.jobs[0]["error_class"] == "DataQualityError"
    assert read_workbook(book).job("customers").last_watermark is None  # a failed job writes no watermark
    sql(postgres, f"""INSERT INTO {pg_schema}.customers (id, email, last_seen)
        VALUES (500, 'new@example.com', '2025-01-01 00:00+00'), (501, 'late@example.com', '2025-01-02 00:00+00')""")
    # (in the past: a timestamp watermark never passes the run's start, docs/loads.md: Watermark strategies)
    second = run(book, settings)
    job = second.jobs[0]
    assert job["status"] == "succeeded" and job["rows_processed"] == 2
    assert [(r["rule"], r["status"], r["observed"], r["rows"]) for r in job["quality"]] == \
        [("not_null", "passed", 0, 2), ("min_rows", "passed", 2, 2)]
    # dlt's state moved on with the flagged data: the next load starts after it
    assert job["watermark_before"] == first.jobs[0]["watermark_after"]
    assert read_workbook(book).job("customers").last_watermark == job["watermark_after"]


def test_rules_that_cannot_read_the_files_are_errors_and_the_load_is_not_repeated(
        postgres, pg_schema, settings, tmp_path, monkeypatch):
    """The lake failing between the load and the checks cannot be timed with a real outage, so
    here (only) the rule evaluation is replaced by one raising the error a lost connection gives."""
    from ingest.checks import quality

    create_customers(postgres, pg_schema)

    def unreachable(*args, **kwargs):
        raise ConnectionResetError("Connection reset by peer")

    monkeypatch.setattr(quality, "evaluate", unreachable)
    book = write_workbook(tmp_path / "w.xlsx", [job_row(job_name="customers", source_schema=pg_schema,
                                                        source_table="customers", primary_key=None)], rules=[
        {"job_name": "customers", "column": "email", "rule": "not_null", "severity": "fail"},
        {"job_name": "customers", "column": "email", "rule": "format", "argument": "email"}])
    job = run(book, settings).jobs[0]
    assert [(r["status"], r["detail"]) for r in job["quality"]] == \
        [("error", "files could not be read: ConnectionResetError: Connection reset by peer")] * 2
    assert (job["status"], job["error_class"], job["attempts"]) == ("failed", "DataQualityError", 1)
    assert job["rows_processed"] == ROWS + DUPLICATES and job["drift"]["status"] == "baseline"

"""Schema drift across runs against real PostgreSQL, through the local runner: a column added,
one dropped, one retyped (and a NOT NULL dropped) appear in the history file in the lake, the
summary and the audit; drift_severity fail flags the job and keeps its data; each
schema_contract policy does what docs/quality.md says (dlt's contracts on arrow batches)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ingest.records.check_results import read_check_rows
from ingest.config import read_workbook
from ingest.plan.planner import make_plan, new_run_context
from ingest.drivers.local.runner import run_local
from tests.integration.conftest import sql
from tests.workbooks import job_row, write_workbook


def create_accounts(postgres, schema: str, rows: int = 10) -> None:
    sql(postgres, f"""
        CREATE TABLE {schema}.accounts (id bigint PRIMARY KEY, qty integer, name text NOT NULL, amount numeric(10,2));
        INSERT INTO {schema}.accounts SELECT g, g, 'n' || g, g * 1.5 FROM generate_series(1, {rows}) g;""")


def run(book: Path, settings):
    return run_local(make_plan(read_workbook(book), new_run_context()), settings, book)


def history(settings, job: str = "accounts") -> list[dict]:
    path = Path(settings.destination, settings.dataset, "_ingest_schema_history", f"{job}.jsonl")
    return [json.loads(line) for line in path.read_text().splitlines()]


def lake_table(settings, files: list[str]) -> pa.Table:
    return pa.concat_tables([pq.read_table(Path(settings.destination, f)) for f in files])


def test_drift_across_runs_is_kept_in_the_history(postgres, pg_schema, settings, tmp_path):
    create_accounts(postgres, pg_schema)
    book = write_workbook(tmp_path / "w.xlsx", [job_row(job_name="accounts", source_schema=pg_schema,
                                                        source_table="accounts")])
    first = run(book, settings)
    assert first.jobs[0]["drift"]["status"] == "baseline" and first.drift_findings == []

    sql(postgres, f"ALTER TABLE {pg_schema}.accounts ADD COLUMN email text")
    second = run(book, settings)
    shutil.rmtree(settings.pipelines_dir)  # a fresh machine: the history comes from the lake
    sql(postgres, f"ALTER TABLE {pg_schema}.accounts DROP COLUMN amount")
    third = run(book, settings)
    sql(postgres, f"ALTER TABLE {pg_schema}.accounts ALTER COLUMN qty TYPE text USING qty::text,"
                  f" ALTER COLUMN name DROP NOT NULL")
    fourth = run(book, settings)
    fifth = run(book, settings)

    summaries = [first, second, third, fourth, fifth]
    assert all(s.exit_code == 0 for s in summaries), [s.jobs for s in summaries]  # drift_severity warn
    assert [s.jobs[0]["drift"]["status"] for s in summaries] == ["baseline", "changed", "changed", "changed", "unchanged"]
    assert second.drift_findings == ["accounts: column added: email (text) [warn]"]
    assert third.drift_findings == ["accounts: column removed: amount (decimal(10,2)) [warn]"]
    assert fourth.drift_findings == ["accounts: column retyped: qty bigint(32) -> text;"
                                     " nullability changed: name NOT NULL -> NULL [warn]"]

    entries = history(settings)
    assert [e["run_id"] for e in entries] == [s.run_id for s in summaries]
    assert [e["load_id"] for e in entries] == [s.jobs[0]["load_id"] for s in summaries]
    assert [[c["name"] for c in e["columns"]] for e in entries] == [
        ["id", "qty", "name", "amount"], ["id", "qty", "name", "amount", "email"], ["id", "qty", "name", "email"],
        ["id", "qty", "name", "email"], ["id", "qty", "name", "email"]]
    assert [e["changes"] for e in entries[1:4]] == [
        {"added": [{"name": "email", "type": "text"}], "removed": [], "retyped": [], "nullability": []},
        {"added": [], "removed": [{"name": "amount", "type": "decimal(10,2)"}], "retyped": [], "nullability": []},
        {"added": [], "removed": [], "retyped": [{"name": "qty", "from": "bigint(32)", "to": "text"}],
         "nullability": [{"name": "name", "from": "NOT NULL", "to": "NULL"}]}]
    assert entries[0]["columns"][0] == {"name": "id", "data_type": "bigint", "nullable": False, "precision": 64,
                                        "scale": None, "timezone": None}
    assert fourth.jobs[0]["drift"]["history_path"] == "raw/_ingest_schema_history/accounts.jsonl"
    assert fifth.jobs[0]["drift"]["previous_run_id"] == fourth.run_id

    # the history reads as a table (docs/quality.md's example)
    import pyarrow.compute as pc
    import pyarrow.json as pj

    table = pj.read_json(Path(settings.destination, "raw", "_ingest_schema_history", "accounts.jsonl"))
    changed = table.filter(pc.equal(table["status"], "changed")).select(["run_id", "recorded_at", "changes"])
    assert changed.column("run_id").to_pylist() == [second.run_id, third.run_id, fourth.run_id]

    # the lake follows (evolve): qty is text now; dlt keeps the dropped amount as an all-NULL column
    latest = lake_table(settings, fifth.jobs[0]["files"])
    assert latest.schema.field("qty").type == pa.string() and latest.column("amount").null_count == 10

    # the audit: one row per change, one `schema` row when nothing changed
    rows = [(r["run_id"], r["rule"], r["column"], r["status"], r["detail"]) for r in read_check_rows(settings.audit_dir)
            if r["check"] == "schema_drift"]
    assert rows == [(first.run_id, "schema", "", "passed", "4 columns; baseline: first snapshot"),
                    (second.run_id, "column_added", "email", "failed", "text"),
                    (third.run_id, "column_removed", "amount", "failed", "decimal(10,2)"),
                    (fourth.run_id, "column_retyped", "qty", "failed", "bigint(32) -> text"),
                    (fourth.run_id, "nullability_changed", "name", "failed", "NOT NULL -> NULL"),
                    (fifth.run_id, "schema", "", "passed", f"4 columns; unchanged since run {fourth.run_id}")]


def test_drift_severity_fail_flags_the_job_and_keeps_its_data(postgres, pg_schema, settings, tmp_path):
    create_accounts(postgres, pg_schema)
    book = write_workbook(tmp_path / "w.xlsx", [job_row(job_name="accounts", source_schema=pg_schema,
                                                        source_table="accounts", drift_severity="fail")])
    assert run(book, settings).exit_code == 0
    sql(postgres, f"ALTER TABLE {pg_schema}.accounts ADD COLUMN email text DEFAULT 'a@b.c'")
    flagged = run(book, settings)
    job = flagged.jobs[0]
    assert (job["status"], job["error_class"], flagged.exit_code) == ("failed", "SchemaDriftError", 1)
    assert "schema changed: column added: email (text) (drift_severity fail)" in job["error_message"]
    assert job["load_id"] in job["error_message"]
    assert lake_table(settings, job["files"]).column("email").to_pylist() == ["a@b.c"] * 10  # the data landed
    assert flagged.drift_findings == ["accounts: column added: email (text) [fail]"]
    assert [r["severity"] for r in read_check_rows(settings.audit_dir) if r["rule"] == "column_added"] == ["fail"]
    # the change is in the history: the next run compares with it and passes
    again = run(book, settings)
    assert again.jobs[0]["status"] == "succeeded" and again.jobs[0]["drift"]["status"] == "unchanged"


@pytest.mark.parametrize("fresh_machine", [False, True], ids=["same-machine", "fresh-machine"])
def test_freeze_refuses_a_new_column_and_a_new_type_and_writes_nothing(postgres, pg_schema, settings, tmp_path,
                                                                       fresh_machine):
    create_accounts(postgres, pg_schema)
    book = write_workbook(tmp_path / "w.xlsx", [job_row(job_name="accounts", source_schema=pg_schema,
                                                        source_table="accounts", schema_contract="freeze")])
    assert run(book, settings).exit_code == 0
    steady = run(book, settings)  # an unchanged schema loads
    assert steady.exit_code == 0
    for change, column in (("ADD COLUMN email text", "email"), ("ALTER COLUMN qty TYPE text", "qty")):
        sql(postgres, f"ALTER TABLE {pg_schema}.accounts {change}")
        if fresh_machine:  # dlt restores the frozen schema from the lake
            shutil.rmtree(settings.pipelines_dir)
        refused = run(book, settings)
        job = refused.jobs[0]
        assert (job["status"], job["error_class"], job["rows_processed"], job["files"]) == \
            ("failed", "SchemaContractError", 0, [])
        assert f"Column: `{column}`" in job["error_message"] and "freeze" in job["error_message"]
        assert job["drift"]["status"] == "changed"  # what changed is reported with the refusal
        sql(postgres, f"ALTER TABLE {pg_schema}.accounts " + ("DROP COLUMN email" if column == "email"
                                                              else "ALTER COLUMN qty TYPE integer USING qty::integer"))
    assert len(history(settings)) == 2  # refused loads add nothing
    landed = sorted(str(p.relative_to(settings.destination)) for p in Path(settings.destination, "raw", "accounts").rglob("*.parquet"))
    assert landed == steady.jobs[0]["files"]  # the lake still holds the last accepted load, nothing else
    # a dropped column is no contract violation: it loads, NULL in the files, and drift reports it
    sql(postgres, f"ALTER TABLE {pg_schema}.accounts DROP COLUMN amount")
    dropped = run(book, settings).jobs[0]
    assert dropped["status"] == "succeeded" and dropped["drift"]["removed"] == [{"name": "amount", "type": "decimal(10,2)"}]
    assert lake_table(settings, dropped["files"]).column("amount").null_count == 10


@pytest.mark.parametrize("policy, rows_loaded, email_in_lake, qty_values", [
    ("evolve", 10, True, "kept"),
    ("discard_value", 10, False, "null"),
    ("discard_row", 6, False, "no rows"),
])
def test_discarding_contracts(postgres, pg_schema, settings, tmp_path, policy, rows_loaded, email_in_lake, qty_values):
    create_accounts(postgres, pg_schema)
    book = write_workbook(tmp_path / "w.xlsx", [job_row(job_name="accounts", source_schema=pg_schema,
                                                        source_table="accounts", schema_contract=policy)])
    run(book, settings)
    sql(postgres, f"ALTER TABLE {pg_schema}.accounts ADD COLUMN email text;"
                  f" UPDATE {pg_schema}.accounts SET email = 'a@b.c' WHERE id <= 4")
    added = run(book, settings)
    job = added.jobs[0]
    assert job["status"] == "succeeded" and job["rows_processed"] == rows_loaded
    assert ("email" in lake_table(settings, job["files"]).column_names) is email_in_lake
    assert job["drift"]["added"] == [{"name": "email", "type": "text"}]
    if policy == "evolve":
        assert job["drift"]["discarded"] == [] and job["rowcount"]["status"] == "ok"
    else:
        reason = "rows with a value in it were not loaded" if policy == "discard_row" else "its values were not loaded"
        assert job["drift"]["discarded"] == [{"name": "email", "reason": f"new column (text): {reason}"}]
        assert f"accounts: column added: email (text); not loaded ({policy}): email: new column" in added.drift_findings[0]
    if policy == "discard_row":  # the rows left out show as a row-count gap
        assert job["rowcount"]["status"] == "mismatch" and job["rowcount"]["source_min"] == 10

    sql(postgres, f"ALTER TABLE {pg_schema}.accounts ALTER COLUMN qty TYPE text USING qty::text")
    retyped = run(book, settings).jobs[0]
    assert retyped["drift"]["retyped"] == [{"name": "qty", "from": "bigint(32)", "to": "text"}]
    table = lake_table(settings, retyped["files"]) if retyped["files"] else None
    if qty_values == "kept":
        assert sorted(table.column("qty").to_pylist(), key=int) == [str(i) for i in range(1, 11)]
    elif qty_values == "null":
        assert table.schema.field("qty").type == pa.int32() and table.column("qty").null_count == 10
    else:
        assert retyped["rows_processed"] == 0


def test_a_redelivered_load_replaces_its_history_entry(postgres, pg_schema, settings, tmp_path):
    """Durable may run a load activity twice for one run: the history keeps one entry per run
    and both deliveries compare with the run before."""
    from ingest.load import run_job

    create_accounts(postgres, pg_schema)
    book = write_workbook(tmp_path / "w.xlsx", [job_row(job_name="accounts", source_schema=pg_schema,
                                                        source_table="accounts")])
    job = read_workbook(book).job("accounts")
    first_run = new_run_context()
    run_job(job, first_run, settings)
    sql(postgres, f"ALTER TABLE {pg_schema}.accounts ADD COLUMN email text")
    second_run = new_run_context()
    deliveries = [run_job(job, second_run, settings) for _ in range(2)]
    assert [d.drift["added"] for d in deliveries] == [[{"name": "email", "type": "text"}]] * 2
    assert [d.drift["previous_run_id"] for d in deliveries] == [first_run.run_id] * 2
    assert [e["run_id"] for e in history(settings)] == [first_run.run_id, second_run.run_id]

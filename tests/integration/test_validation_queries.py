"""docs/validation-queries.md, run as written (DuckDB from PyPI, offline) against a lake that real
command-line loads from PostgreSQL made: an INCREMENTAL table loaded, changed, loaded again; then
its watermark moved back by hand exactly as docs/runbook.md says, which re-appends the window."""

from __future__ import annotations

import re
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import psycopg2

from tests.integration.conftest import BASE_TIME, create_orders, sql
from tests.integration.test_cli import REPO, ingest
from tests.workbooks import job_row, write_workbook

DOC = REPO / "docs" / "validation-queries.md"


def doc_queries() -> dict[str, str]:
    text = DOC.read_text()
    return dict(re.findall(r"<!-- query: (\w+) -->\n```sql\n(.*?)```", text, flags=re.S))


def run(query: str, cwd: Path) -> list[tuple]:
    """The query as the doc writes it, from the folder where `ingest run` ran."""
    con = duckdb.connect()
    try:
        con.execute(f"SET file_search_path = '{cwd}'")
        return con.execute(query.replace("'lake/", f"'{cwd}/lake/").replace("'audit/", f"'{cwd}/audit/")).fetchall()
    finally:
        con.close()


def source_rows(postgres, schema: str, where: str = "true") -> int:
    con = psycopg2.connect(postgres.url())
    with con, con.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM {schema}.orders WHERE {where}")
        count = cur.fetchone()[0]
    con.close()
    return count


def test_the_documented_queries_on_a_real_lake(postgres, pg_schema, tmp_path):
    queries = doc_queries()
    assert set(queries) == {"row_count", "rows_per_load", "audit_vs_lake", "duplicate_keys", "latest_per_key",
                            "watermark", "profile", "nulls", "schema"}
    create_orders(postgres, pg_schema, 300)
    env = {"SOURCES__PG__CREDENTIALS": postgres.url(), "INGEST_DESTINATION": str(tmp_path / "lake"),
           "INGEST_PIPELINES_DIR": str(tmp_path / "pipelines")}
    incremental = dict(source_schema=pg_schema, load_type="INCREMENTAL", watermark_column="updated_at")
    book = write_workbook(tmp_path / "w.xlsx", [job_row(**incremental)])
    first = ingest(["run", "--config", str(book), "--no-progress"], cwd=tmp_path, env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    # 20 rows change (a later updated_at, a new amount), 10 rows are new
    sql(postgres, f"""UPDATE {pg_schema}.orders SET amount = -amount, updated_at = updated_at + interval '1 day'
                      WHERE id BETWEEN 51 AND 70;
                      INSERT INTO {pg_schema}.orders SELECT id + 300, qty, amount, name, note, created_at,
                             updated_at + interval '2 days' FROM {pg_schema}.orders WHERE id <= 10""")
    second = ingest(["run", "--config", str(book), "--no-progress"], cwd=tmp_path, env=env)
    assert second.returncode == 0 and "Rows: 30" in second.stdout, second.stdout + second.stderr

    assert run(queries["row_count"], tmp_path) == [(330,)]
    per_load = run(queries["rows_per_load"], tmp_path)
    assert [r[2] for r in per_load] == [300, 30] and all(re.fullmatch(r"\d{4}/\d\d/\d\d", r[0]) for r in per_load)
    assert run(queries["audit_vs_lake"], tmp_path) == []
    duplicates = run(queries["duplicate_keys"], tmp_path)
    assert [r[0] for r in duplicates] == list(range(51, 71)) and {r[1:3] for r in duplicates} == {(2, 2)}
    latest = {row[0]: row for row in run(queries["latest_per_key"], tmp_path)}
    assert len(latest) == 310 == source_rows(postgres, pg_schema)
    assert all(latest[i][2] < 0 for i in range(51, 71))  # the changed amount won
    lake_max, audit_after = run(queries["watermark"], tmp_path)[0]
    assert lake_max == datetime.fromisoformat(audit_after)
    profile = {row[0]: row for row in run(queries["profile"], tmp_path)}
    assert {"id", "amount", "note", "updated_at"} <= set(profile)
    rows, null_notes, negative = run(queries["nulls"], tmp_path)[0]
    assert (rows, negative) == (310, 20)
    assert null_notes == source_rows(postgres, pg_schema, "note IS NULL")
    schema = {row[0]: row for row in run(queries["schema"], tmp_path)}
    assert "precision=12" in schema["amount"][2] and "scale=2" in schema["amount"][2] and schema["id"][3] == 2

    # docs/runbook.md, "A watermark to move by hand": reload everything after id 200's watermark
    moved_to = str(BASE_TIME + timedelta(seconds=200))
    write_workbook(book, [job_row(**incremental, last_watermark=moved_to)])
    states = list((tmp_path / "lake" / "raw" / "_dlt_pipeline_state").glob("ingest_orders__*.jsonl"))
    assert states
    for state in states:
        state.unlink()
    (working,) = list((tmp_path / "pipelines").glob("raw-*/ingest_orders"))  # INGEST_PIPELINES_DIR
    shutil.rmtree(working)
    third = ingest(["run", "--config", str(book), "--no-progress"], cwd=tmp_path, env=env)
    assert third.returncode == 0, third.stdout + third.stderr
    expected = source_rows(postgres, pg_schema, f"updated_at >= '{moved_to}'")
    assert f"Rows: {expected}" in third.stdout, third.stdout
    assert run(queries["row_count"], tmp_path) == [(330 + expected,)]
    assert len(run(queries["latest_per_key"], tmp_path)) == 310  # versions, not new rows
    assert run(queries["audit_vs_lake"], tmp_path) == []
    fourth = ingest(["run", "--config", str(book), "--no-progress"], cwd=tmp_path, env=env)
    assert fourth.returncode == 0 and "Rows: 0" in fourth.stdout  # the new state took over

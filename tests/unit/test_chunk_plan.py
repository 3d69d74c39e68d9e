"""Chunked loads without a server (docs/chunked-loads.md): the quantile SQL each dialect gets
(SQL Server and Oracle compiled on the client path: no server of theirs runs here), the
stride fallback, the ranges that cover every value once, the workbook's checks of the chunk
columns with their cell, and the pure flow of a wave's units."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.dialects import mssql, oracle, postgresql

from ingest.config import read_workbook
from ingest.config.model import ChunkSize, JobConfig
from ingest.plan.flow import CHUNK, COMMIT, JOB, SPLIT, Unit, WaveFlows
from ingest.sources import chunk_ranges
from tests.workbooks import job_row, write_workbook

TABLE = sa.Table("orders", sa.MetaData(schema="sales"), sa.Column("id", sa.BigInteger, primary_key=True),
                 sa.Column("day", sa.Date), sa.Column("note", sa.Text))


def compiled(query, dialect) -> str:
    return " ".join(str(query.compile(dialect=dialect, compile_kwargs={"literal_binds": True})).split())


def test_quantile_queries_per_dialect():
    where = [TABLE.c.note.isnot(None)]
    pg = compiled(chunk_ranges.quantile_query(TABLE, TABLE.c.id, where, [0.25, 0.5, 0.75], "postgresql"),
                  postgresql.dialect())
    assert "percentile_disc(CAST(ARRAY[0.25, 0.5, 0.75] AS FLOAT[])) WITHIN GROUP (ORDER BY sales.orders.id)" in pg
    assert "WHERE sales.orders.note IS NOT NULL" in pg
    ms = compiled(chunk_ranges.quantile_query(TABLE, TABLE.c.id, where, [0.5], "mssql"), mssql.dialect())
    assert ms.startswith("SELECT TOP 1 percentile_disc(0.5) WITHIN GROUP (ORDER BY sales.orders.id) OVER ()")
    ora = compiled(chunk_ranges.quantile_query(TABLE, TABLE.c.id, [], [0.5], "oracle"), oracle.dialect())
    assert ora == "SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY sales.orders.id) AS percentile_disc_1 FROM sales.orders"


def test_strides_cover_min_to_max_in_equal_steps():
    assert chunk_ranges.stride(1, 100, 4) == [26, 51, 76]
    assert chunk_ranges.stride(date(2024, 1, 1), date(2024, 1, 5), 2) == [date(2024, 1, 3)]
    assert chunk_ranges.stride(5, 5, 4) == []  # one value: one chunk


def test_ranges_cover_every_value_once_with_nulls_apart():
    ranges = chunk_ranges.chunk_ranges([10, 20], nullable=True)
    assert [(r["id"], r["low"], r["high"]) for r in ranges] == [
        ("c000", None, 10), ("c001", 10, 20), ("c002", 20, None), ("cnull", None, None)]
    column = TABLE.c.id
    texts = [compiled(sa.select(column).where(*chunk_ranges.range_clause(column, r)), postgresql.dialect())
             for r in ranges]
    assert texts[0].endswith("WHERE sales.orders.id IS NOT NULL AND sales.orders.id < 10")
    assert texts[1].endswith("sales.orders.id >= 10 AND sales.orders.id < 20")
    assert texts[2].endswith("WHERE sales.orders.id IS NOT NULL AND sales.orders.id >= 20")
    assert texts[3].endswith("WHERE sales.orders.id IS NULL")
    stamp = chunk_ranges.decode(chunk_ranges.encode(datetime(2024, 1, 2, 3, 4)), "timestamp")
    assert stamp == datetime(2024, 1, 2, 3, 4)
    assert chunk_ranges.decode("2024-01-02 03:04:05+00", "timestamp").utcoffset().total_seconds() == 0


def test_the_split_column_defaults_to_an_integer_key_and_must_be_orderable():
    job = JobConfig.from_dict({**job_row(), "enabled": True, "primary_key": ["id"],
                               "chunk_size": {"amount": 4, "unit": "chunks"}})
    assert chunk_ranges.split_column(job, TABLE).name == "id"
    bad = JobConfig.from_dict({**job.to_dict(), "chunk_column": "note"})
    try:
        chunk_ranges.split_column(bad, TABLE)
    except Exception as exc:  # ConfigError naming the job and the column
        assert "chunk_column 'note'" in str(exc) and "job 'orders'" in str(exc)
    else:
        raise AssertionError("a text column was accepted")


def test_the_workbook_checks_the_chunk_columns_with_their_cell(tmp_path):
    rows = [job_row(job_name="a", chunk_size="8"),
            job_row(job_name="b", chunk_column="id"),
            job_row(job_name="c", chunk_size="4 chunks", load_type="INCREMENTAL", watermark_column="updated_at",
                    lookback="2 days"),
            job_row(job_name="d", chunk_size="2,000,000 rows", chunk_column="created_at")]
    config = read_workbook(write_workbook(tmp_path / "w.xlsx", rows))
    messages = {str(issue) for issue in config.errors}
    assert any(m.startswith("jobs!AB2: chunk_size '8' is not a count with a unit") for m in messages), messages
    assert any(m.startswith("jobs!AC3: chunk_column needs chunk_size") for m in messages), messages
    assert any("lookback cannot be used with chunk_size" in m and m.startswith("jobs!W4") for m in messages), messages
    assert [j.job_name for j in config.jobs] == ["d"]
    assert config.jobs[0].chunk_size == ChunkSize(2_000_000, "rows") and config.jobs[0].chunk_column == "created_at"
    assert JobConfig.from_dict(config.jobs[0].to_dict()) == config.jobs[0]


def test_a_cdc_row_chunks_its_snapshot_by_pages_not_by_a_column(tmp_path):
    """chunk_size on a CDC row splits its initial snapshot by the table's pages
    (ingest/sources/postgres_cdc/snapshot_chunks.py): a chunk_column would be ignored, so it is
    refused at its cell; scd2, refused with chunks of a watermark load, is one load here."""
    rows = [job_row(job_name="a", load_type="CDC", chunk_size="4 chunks", chunk_column="id"),
            job_row(job_name="b", load_type="CDC", chunk_size="4 chunks", table_format="delta", scd2="Y")]
    config = read_workbook(write_workbook(tmp_path / "w.xlsx", rows))
    messages = {str(issue) for issue in config.errors}
    assert any(m.startswith("jobs!AC2: a CDC job's snapshot chunks split by the table's pages") for m in messages), \
        messages
    assert [j.job_name for j in config.jobs] == ["b"] and config.jobs[0].chunk_size == ChunkSize(4, "chunks")


def _failed(job, error_class, message):
    return {"job_name": job["job_name"], "status": "failed", "error_class": error_class, "error_message": message}


def test_the_flow_of_a_chunked_job_and_a_plain_one():
    flows = WaveFlows([{"job_name": "big", "chunk_size": {"amount": 3, "unit": "chunks"}},
                       {"job_name": "small"}], _failed)
    assert [flows.take(), flows.take(), flows.take()] == [Unit("big", SPLIT), Unit("small", JOB), None]
    assert flows.finished(Unit("big", SPLIT), {"status": "succeeded", "plain": False, "chunks": ["c0", "c1", "c2"],
                                                "done": ["c1"], "method": "m", "split_column": "id"}) is None
    assert [flows.take(), flows.take()] == [Unit("big", CHUNK, "c0"), Unit("big", CHUNK, "c2")]
    assert flows.finished(Unit("small", JOB), {"job_name": "small", "status": "succeeded"})["job_name"] == "small"
    assert flows.finished(Unit("big", CHUNK, "c2"), {"status": "succeeded"}) is None and flows.take() is None
    assert flows.finished(Unit("big", CHUNK, "c0"), {"status": "succeeded"}) is None
    assert flows.take() == Unit("big", COMMIT) and flows.chunk_counts() == (3, 3)
    assert flows.finished(Unit("big", COMMIT), {"job_name": "big", "status": "succeeded"})["status"] == "succeeded"


def test_a_failed_chunk_fails_the_job_after_its_siblings_and_nothing_is_committed():
    flows = WaveFlows([{"job_name": "big", "chunk_size": {"amount": 2, "unit": "chunks"}}], _failed)
    flows.take()
    flows.finished(Unit("big", SPLIT), {"status": "succeeded", "chunks": ["c0", "c1"], "done": []})
    flows.take(), flows.take()
    assert flows.finished(Unit("big", CHUNK, "c0"), {"status": "failed", "error_class": "TransientSourceError",
                                                      "error_message": "gone"}) is None
    result = flows.finished(Unit("big", CHUNK, "c1"), {"status": "succeeded"})
    assert result["error_class"] == "ChunkedLoadError" and "1 of 2 chunk(s) failed (c0)" in result["error_message"]
    assert "TransientSourceError: gone" in result["error_message"]
    assert result["chunks"] == {"total": 2, "done": 1, "failed": ["c0"], "method": None, "split_column": None}
    assert flows.take() is None


def test_a_split_that_finds_state_runs_the_plain_load():
    flows = WaveFlows([{"job_name": "big", "chunk_size": {"amount": 2, "unit": "chunks"}}], _failed)
    flows.take()
    flows.finished(Unit("big", SPLIT), {"status": "succeeded", "plain": True})
    assert flows.take() == Unit("big", JOB)


def test_the_console_counts_chunks():
    import io
    from datetime import datetime

    from ingest.core.progress import Progress

    stream = io.StringIO()
    progress = Progress(stream, tty=False, wall=lambda: datetime(2026, 1, 1, 12, 0, 3))
    progress.run_started(1)
    progress.chunk_finished("orders", 3, 8)
    assert stream.getvalue().splitlines()[-1] == "[12:00:03] orders: 3/8 chunks done"


def test_the_dry_run_says_which_loads_go_in_chunks(tmp_path):
    """`python -m ingest plan` names the split of a chunked job's load, and says nothing for an
    INCREMENTAL job that continues from the lake's state (it loads as one stream)."""
    from ingest.core.settings import Settings
    from ingest.drivers.dry_run import describe_plan, format_plan
    from ingest.plan.planner import make_plan, new_run_context

    rows = [job_row(job_name="full", chunk_size="8 chunks", chunk_column="id"),
            job_row(job_name="first", source_table="t1", load_type="INCREMENTAL", watermark_column="updated_at",
                    chunk_size="5000000 rows"),
            job_row(job_name="later", source_table="t2", load_type="INCREMENTAL", watermark_column="updated_at",
                    chunk_size="4 chunks"),
            job_row(job_name="plain", source_table="t3"),
            job_row(job_name="changes", source_table="t4", load_type="CDC", chunk_size="4 chunks")]
    config = read_workbook(write_workbook(tmp_path / "w.xlsx", rows))
    assert not config.errors
    plan = make_plan(config, new_run_context())
    lake_state = {"later": "2026-01-01T00:00:00"}
    report = describe_plan(plan, Settings(destination=str(tmp_path / "lake")),
                           read_state=lambda job, _settings: lake_state.get(job.job_name), read_slot=None)
    chunks = {job.job_name: job.chunks for job in report.jobs}
    assert chunks == {"full": "in 8 chunks by id",
                      "first": "in chunks of about 5,000,000 rows by the single-column integer primary key"
                               " (its first load: no state in the lake)",
                      "later": None, "plain": None,
                      "changes": "its initial snapshot in 4 chunks by the table's pages (when the slot starts anew)"}
    assert "(FULL; in 8 chunks by id)" in format_plan(report)

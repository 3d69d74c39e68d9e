"""A CDC job's initial snapshot in parallel chunks (chunk_size on its row;
ingest/sources/postgres_cdc/snapshot_chunks.py) on a real PostgreSQL 15 with wal_level=logical:
each chunk a range of the table's pages read by its own process inside the slot's exported
snapshot. The lake must equal the one-stream snapshot's, value for value and type for type,
also when rows change while the chunks read."""

from __future__ import annotations

import dataclasses
import glob
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from ingest.config.model import ChunkSize
from tests.cdc_helpers import (cdc_job, change_right_after_the_slot, delta_rows, load, parquet_current, source_rows,
                               sql)

ROWS = 20_000
TYPES_TABLE = """CREATE TABLE {schema}.wide (id int PRIMARY KEY, amount numeric(14,4), ratio float8, small smallint,
    flag boolean, day date, at timestamptz, local_at timestamp, clock time, raw bytea, note text, doc jsonb);
INSERT INTO {schema}.wide SELECT g, g * 1.2345, g / 7.0, (g % 30000)::smallint, g % 3 = 0,
    DATE '2020-01-01' + (g % 1000), TIMESTAMPTZ '2024-01-01 00:00:00+00' + g * interval '1 second 7 microseconds',
    TIMESTAMP '1999-12-31 23:59:59.999999' + g * interval '1 minute', TIME '00:00:00.000001' + g * interval '1 second',
    decode(md5(g::text), 'hex'), CASE WHEN g % 5 = 0 THEN NULL ELSE repeat('x', g % 40) END,
    jsonb_build_object('g', g) FROM generate_series(1, {rows}) g;
INSERT INTO {schema}.wide (id, at, local_at, day) VALUES (-1, 'infinity', '-infinity', 'infinity');"""


def chunked(job, amount: int = 4):
    return dataclasses.replace(job, chunk_size=ChunkSize(amount, "chunks"))


def lake(settings, table: str, names: list[str], fmt: str) -> list[tuple]:
    return delta_rows(settings, table, names) if fmt == "delta" else parquet_current(settings, table, names)


def landed_schema(settings, table: str):
    files = sorted(glob.glob(str(Path(settings.destination) / settings.dataset / table / "**" / "*.parquet"),
                             recursive=True))
    return pq.read_schema(files[0]).remove_metadata()


@pytest.mark.parametrize("fmt", ["delta", "parquet"])
def test_a_chunked_snapshot_lands_what_the_one_stream_snapshot_lands(postgres, settings, cdc, fmt, tmp_path, caplog):
    schema, connection = cdc
    sql(postgres, TYPES_TABLE.format(schema=schema, rows=ROWS))
    names, expected = source_rows(postgres, schema, "wide")
    one_stream = dataclasses.replace(settings, destination=str(tmp_path / "one_stream"),
                                     pipelines_dir=tmp_path / "one_stream_pipelines")
    plain = load([cdc_job("wide", connection, schema, "wide", fmt)], one_stream)["wide"]
    assert plain.succeeded, plain.error_message
    sql(postgres, f"SELECT pg_drop_replication_slot('ingest_cdc_{connection}')")

    with caplog.at_level("INFO", logger="ingest.cdc"):
        result = load([chunked(cdc_job("wide", connection, schema, "wide", fmt))], settings)["wide"]
    assert result.succeeded, result.error_message
    assert any("4 chunks of about" in r.getMessage() for r in caplog.records)
    assert result.cdc["snapshot_rows"] == plain.cdc["snapshot_rows"] == ROWS + 1
    assert lake(settings, "wide", names, fmt) == lake(one_stream, "wide", names, fmt)
    assert len(lake(settings, "wide", names, fmt)) == len(expected)
    if fmt == "parquet":  # the very same column types in the files
        assert landed_schema(settings, "wide") == landed_schema(one_stream, "wide")
    assert not list(Path(settings.pipelines_dir).rglob("*.arrow"))  # the chunks' files are gone


@pytest.mark.parametrize("fmt", ["delta", "parquet", "delta_mark", "delta_scd2"])
def test_rows_changed_while_the_chunks_read_land_once(postgres, settings, cdc, monkeypatch, fmt):
    """The chunks read the slot's snapshot, not the table as it is when each starts: changes
    committed meanwhile come through the slot once."""
    schema, connection = cdc
    sql(postgres, f"CREATE TABLE {schema}.t (id int PRIMARY KEY, v int, pad text);"
                  f" INSERT INTO {schema}.t SELECT g, g, repeat('p', 200) FROM generate_series(1, 5000) g")
    change_right_after_the_slot(monkeypatch, postgres, f"UPDATE {schema}.t SET v = -v WHERE id <= 10;"
                                f" DELETE FROM {schema}.t WHERE id > 4990; INSERT INTO {schema}.t VALUES (9000, 5, 'new')")
    job = chunked(cdc_job("t", connection, schema, "t", fmt), 3)
    first = load([job], settings)["t"]
    assert first.succeeded, first.error_message
    assert first.cdc["snapshot_rows"] == 5000  # the snapshot saw the table as it was
    assert (first.cdc["inserts"], first.cdc["updates"], first.cdc["deletes"]) == (1, 10, 10)
    names, expected = source_rows(postgres, schema, "t")
    if fmt == "delta_scd2":
        got = [r for r in delta_rows(settings, "t", [*names, "_valid_to"]) if r[-1] is None]
        assert sorted(r[:-1] for r in got) == sorted(expected)
    elif fmt == "delta_mark":
        got = delta_rows(settings, "t", [*names, "_ingest_deleted"])
        assert sorted(r[:-1] for r in got if not r[-1]) == sorted(expected)
        assert sum(1 for r in got if r[-1]) == 10
    else:
        assert lake(settings, "t", names, fmt) == sorted(expected)


def test_a_failing_chunk_fails_the_load_naming_the_column_and_lands_nothing(postgres, settings, cdc):
    schema, connection = cdc
    sql(postgres, f"CREATE TABLE {schema}.n (id int PRIMARY KEY, amount numeric(12,2), pad text);"
                  f" INSERT INTO {schema}.n SELECT g, g, repeat('p', 200) FROM generate_series(1, 4000) g;"
                  f" UPDATE {schema}.n SET amount = 'NaN' WHERE id = 3999")
    result = load([chunked(cdc_job("n", connection, schema, "n", "parquet"))], settings)["n"]
    assert not result.succeeded
    assert result.error_class == "SourceValueError"
    assert "job 'n': snapshot chunk" in result.error_message and "column amount" in result.error_message
    assert postgres.password not in result.error_message
    assert not list(Path(settings.destination).rglob("*.parquet"))
    assert not list(Path(settings.pipelines_dir).rglob("*.arrow"))


def test_a_small_table_or_one_chunk_reads_in_one_stream(postgres, settings, cdc, caplog):
    schema, connection = cdc
    sql(postgres, f"CREATE TABLE {schema}.s (id int PRIMARY KEY); INSERT INTO {schema}.s VALUES (1), (2)")
    with caplog.at_level("INFO", logger="ingest.cdc"):
        result = load([chunked(cdc_job("s", connection, schema, "s", "parquet"))], settings)["s"]
    assert result.succeeded and result.cdc["snapshot_rows"] == 2
    assert any("one stream" in r.getMessage() for r in caplog.records)

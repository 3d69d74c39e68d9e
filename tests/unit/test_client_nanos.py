"""Timestamps and times with more than six fractional digits on the client path (SQL Server's
datetime2(7) and time(7), Oracle's TIMESTAMP(7..9)): the column lands to the microsecond and a
companion `<column>_nanos` holds the nanoseconds past it, computed in the server, so together
they are the exact value (client_types.py: nanos_companion).

No SQL Server or Oracle server can run here: the companion's SQL is compiled with SQLAlchemy's
mssql and oracle dialects and compared. The way the companion travels through dlt (an extra
column of the cursor, hinted int16, landing in the parquet file beside its column) runs for real
through dlt's sql_table on SQLite, with a companion expression SQLite can compute."""

from __future__ import annotations

from datetime import datetime

import dlt
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from dlt.sources.sql_database import sql_table
from sqlalchemy.dialects import mssql, oracle

from ingest.core.errors import SourceValueError
from ingest.sources import mssql_types, oracle_types
from ingest.sources.client_loader import client_loader
from ingest.sources.client_types import (ClientPlan, Companion, SourceColumn, TypeRule, check_supported,
                                         integer_hint, plan_hints, select_planned, timestamp_hint)

MSSQL = mssql.dialect()
ORACLE = oracle.dialect()


def selected(type_map, column: SourceColumn, dialect, watermark: bool = False) -> str:
    table = sa.Table("t", sa.MetaData(), sa.Column(column.name, sa.DateTime()), schema="s")
    plans = {column.name: type_map.plan_column(column, watermark=watermark)}
    engine = sa.create_engine("mssql+pyodbc://" if type_map is mssql_types else "oracle+oracledb://")
    query = select_planned(plans)(sa.select(table), table, None, engine)
    return " ".join(str(query.compile(dialect=dialect)).split())


@pytest.mark.parametrize("column, sql", [
    (SourceColumn("c", "datetime2", None, 7), "SELECT s.t.c, DATEPART(nanosecond, s.t.c) % 1000 AS c_nanos FROM s.t"),
    (SourceColumn("c", "datetime2"), "SELECT s.t.c, DATEPART(nanosecond, s.t.c) % 1000 AS c_nanos FROM s.t"),
    (SourceColumn("c", "time", None, 7), "SELECT s.t.c, DATEPART(nanosecond, s.t.c) % 1000 AS c_nanos FROM s.t"),
    (SourceColumn("c", "datetime2", None, 6), "SELECT s.t.c FROM s.t"),
    (SourceColumn("c", "datetime2", None, 3), "SELECT s.t.c FROM s.t"),
    (SourceColumn("c", "datetime"), "SELECT s.t.c FROM s.t"),
    (SourceColumn("c", "time", None, 0), "SELECT s.t.c FROM s.t"),
])
def test_sqlserver_more_than_six_digits_get_a_nanos_companion(column, sql):
    """datetime2 and time without a declared precision have seven digits (SQL Server's default)."""
    assert selected(mssql_types, column, MSSQL) == sql


def test_sqlserver_datetimeoffset_watermark_keeps_its_100ns_digit_in_the_companion():
    assert selected(mssql_types, SourceColumn("c", "datetimeoffset", None, 7), MSSQL, watermark=True) == \
        "SELECT s.t.c, DATEPART(nanosecond, s.t.c) % 1000 AS c_nanos FROM s.t"


@pytest.mark.parametrize("column, sql", [
    (SourceColumn("c", "timestamp", None, 9),
     "SELECT s.t.c, mod(EXTRACT(second FROM s.t.c) * 1000000000, 1000) AS c_nanos FROM s.t"),
    (SourceColumn("c", "timestamp", None, 7),
     "SELECT s.t.c, mod(EXTRACT(second FROM s.t.c) * 1000000000, 1000) AS c_nanos FROM s.t"),
    (SourceColumn("c", "timestamp"), "SELECT s.t.c FROM s.t"),
    (SourceColumn("c", "timestamp", None, 6), "SELECT s.t.c FROM s.t"),
    (SourceColumn("c", "date"), "SELECT s.t.c FROM s.t"),
    (SourceColumn("c", "timestamp with local time zone", None, 9),
     "SELECT SYS_EXTRACT_UTC(CAST(s.t.c AS TIMESTAMP(9) WITH TIME ZONE)) AS c,"
     " mod(EXTRACT(second FROM s.t.c) * 1000000000, 1000) AS c_nanos FROM s.t"),
])
def test_oracle_more_than_six_digits_get_a_nanos_companion(column, sql):
    """Oracle's TIMESTAMP defaults to six digits; EXTRACT(SECOND ...) keeps every digit."""
    assert selected(oracle_types, column, ORACLE) == sql


def test_oracle_zoned_watermark_keeps_its_nanoseconds_in_the_companion():
    assert selected(oracle_types, SourceColumn("c", "timestamp with time zone", None, 9), ORACLE, watermark=True) == \
        "SELECT sys_extract_utc(s.t.c) AS c, mod(EXTRACT(second FROM s.t.c) * 1000000000, 1000) AS c_nanos FROM s.t"


def test_companion_lands_as_int16_beside_its_column():
    plans = {"c": mssql_types.plan_column(SourceColumn("c", "datetime2", None, 7))}
    assert plan_hints(plans)["c_nanos"] == {"name": "c_nanos", "data_type": "bigint", "precision": 16}
    assert plan_hints(plans)["c"]["data_type"] == "timestamp"


def test_a_column_already_named_like_the_companion_fails_before_reading_naming_both():
    plans = {"c": mssql_types.plan_column(SourceColumn("c", "datetime2", None, 7)),
             "C_NANOS": mssql_types.plan_column(SourceColumn("C_NANOS", "int"))}
    with pytest.raises(SourceValueError, match=r"column c \(datetime2\(7\)\) of table s.t has more than six"
                                               r" fractional digits, which land in a column c_nanos"):
        check_supported(plans, "s.t")


def test_companion_travels_through_dlt_into_the_parquet_file_beside_its_column(tmp_path):
    """The real dlt path (sql_table, pyarrow backend, filesystem destination) on SQLite: the
    source keeps nine digits as text; the plan reads the microseconds as the column and the
    nanoseconds past them as the companion, as SQL Server's DATEPART would."""
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'source.db'}")
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE events (id INTEGER PRIMARY KEY, c TEXT)"))
        connection.execute(sa.text("INSERT INTO events VALUES (1, '2024-03-01 12:00:00.123456789'),"
                                   " (2, '9999-12-31 23:59:59.999999900'), (3, NULL)"))
    rule = TypeRule("test", "timestamp[us]")
    column = SourceColumn("c", "text")
    companion = Companion("c_nanos", lambda c, d=None: sa.cast(sa.func.substr(c, 27, 3), sa.Integer()),
                          integer_hint(16))
    plans = {"c": ClientPlan(column, rule, timestamp_hint(), companion=companion,
                             select=lambda c, d=None: sa.func.substr(c, 1, 26),
                             convert=lambda v: datetime.fromisoformat(v), driver_type=sa.String())}
    resource = sql_table(credentials=engine, table="events", backend="pyarrow",
                         query_adapter_callback=select_planned(plans), table_loader_class=client_loader(plans))
    resource.apply_hints(columns=plan_hints(plans))
    pipeline = dlt.pipeline("nanos", destination=dlt.destinations.filesystem(str(tmp_path / "lake")),
                            dataset_name="d", pipelines_dir=str(tmp_path / "pipelines"))
    pipeline.run(resource, loader_file_format="parquet")
    files = list((tmp_path / "lake" / "d" / "events").glob("*.parquet"))
    landed = pq.read_table(files[0]).sort_by("id")
    assert landed.schema.field("c").type == pa.timestamp("us")
    assert landed.schema.field("c_nanos").type == pa.int16()
    rows = [(r["c"], r["c_nanos"]) for r in landed.select(["c", "c_nanos"]).to_pylist()]
    assert [(c.replace(tzinfo=None) if c else None, n) for c, n in rows] == [
        (datetime(2024, 3, 1, 12, 0, 0, 123456), 789),
        (datetime(9999, 12, 31, 23, 59, 59, 999999), 900),
        (None, None)]

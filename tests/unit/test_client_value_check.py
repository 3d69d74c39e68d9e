"""The value check on the client path (SQL Server, Oracle): the one scan's SQL as each dialect
compiles it, its min and max typed as the load's driver and conversion give them, and the
comparison with the parquet footers of what landed, catching a planted truncation.

No SQL Server or Oracle server can run here: the scan's SQL is compiled with SQLAlchemy's
mssql and oracle dialects and compared, and the same statement is executed on SQLite (the
only server here for it) with the plans the two dialects give, so the typing of min/max and
the comparison run for real; what a real server returns for its own types was not run."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa
from sqlalchemy.dialects import mssql, oracle

from ingest.checks.values import compare, lake_stats, source_stats, stats_query
from ingest.sources import mssql_types, oracle_types
from ingest.sources.client_types import SourceColumn, client_value_columns


def _plans(type_map, columns: list[SourceColumn]):
    return {column.name: type_map.plan_column(column) for column in columns}


MSSQL_COLUMNS = [SourceColumn("amount", "decimal", 12, 4), SourceColumn("price", "money"),
                 SourceColumn("changed", "datetime2", None, 6), SourceColumn("notes", "ntext"),
                 SourceColumn("doc", "xml"), SourceColumn("place", "geography"), SourceColumn("n", "int")]


def test_sqlserver_scan_counts_every_type_and_ranges_only_what_reads_as_itself():
    """count(c) is refused by SQL Server on ntext/text/image; the CASE form is not. xml and
    geography land through a text conversion, so their min/max would not be the lake's: only
    counted. Integers land exactly in the driver's type: counted, as on PostgreSQL."""
    plans = _plans(mssql_types, MSSQL_COLUMNS)
    table = sa.Table("t", sa.MetaData(), *(sa.Column(c.name, sa.types.NullType()) for c in MSSQL_COLUMNS), schema="sales")
    ranges = client_value_columns(plans)
    assert set(ranges) == {"amount", "price", "changed"}
    query = stats_query(table, {name: table.c[name] for name in plans}, [table.c.n > 5], set(ranges), ranges, True)
    sql = str(query.compile(dialect=mssql.dialect(), compile_kwargs={"literal_binds": True}))
    assert sql.split() == (
        "SELECT count(*) AS count_1,"
        " count(CASE WHEN (sales.t.amount IS NOT NULL) THEN 1 END) AS count_2,"
        " min(sales.t.amount) AS min_1, max(sales.t.amount) AS max_1,"
        " count(CASE WHEN (sales.t.price IS NOT NULL) THEN 1 END) AS count_3,"
        " min(sales.t.price) AS min_2, max(sales.t.price) AS max_2,"
        " count(CASE WHEN (sales.t.changed IS NOT NULL) THEN 1 END) AS count_4,"
        " min(sales.t.changed) AS min_3, max(sales.t.changed) AS max_3,"
        " count(CASE WHEN (sales.t.notes IS NOT NULL) THEN 1 END) AS count_5,"
        " count(CASE WHEN (sales.t.doc IS NOT NULL) THEN 1 END) AS count_6,"
        " count(CASE WHEN (sales.t.place IS NOT NULL) THEN 1 END) AS count_7,"
        " count(CASE WHEN (sales.t.n IS NOT NULL) THEN 1 END) AS count_8"
        " FROM sales.t WHERE sales.t.n > 5").split()


def test_oracle_scan_types_number_min_max_as_decimal():
    """python-oracledb returns a NUMBER as float unless the statement asks for Decimal: the min
    and max carry the plan's driver type, as the load's column does (NUMBER(asdecimal=True)),
    so 0.1 + 0.2-style floats never make a false mismatch. NUMBER without precision lands as
    text (unordered), TIMESTAMP WITH TIME ZONE as text: counted only."""
    columns = [SourceColumn("amount", "number", 20, 6), SourceColumn("raw_number", "number"),
               SourceColumn("created", "date"), SourceColumn("zoned", "timestamp with time zone", None, 6),
               SourceColumn("body", "clob")]
    plans = _plans(oracle_types, columns)
    ranges = client_value_columns(plans)
    assert set(ranges) == {"amount", "created"}
    table = sa.Table("t", sa.MetaData(), *(sa.Column(c.name, sa.types.NullType()) for c in columns))
    minimum = ranges["amount"](sa.func.min(table.c.amount))
    assert isinstance(minimum.type.impl, oracle.NUMBER) and minimum.type.impl.asdecimal
    sql = str(stats_query(table, {n: table.c[n] for n in plans}, [], set(ranges), ranges, True)
              .compile(dialect=oracle.dialect()))
    assert "min(t.amount)" in sql and "max(t.created)" in sql and "min(t.raw_number)" not in sql
    assert "count(CASE WHEN (t.body IS NOT NULL) THEN :param_5 END)" in sql


def _source(rows: list[tuple]) -> tuple[sa.Engine, sa.Table]:
    engine = sa.create_engine("sqlite://")
    table = sa.Table("t", sa.MetaData(), sa.Column("amount", sa.Numeric(12, 4)), sa.Column("price", sa.Numeric(19, 4)),
                     sa.Column("changed", sa.DateTime()), sa.Column("notes", sa.Text()), sa.Column("n", sa.Integer()))
    table.metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(table.insert(), [dict(zip(table.c.keys(), row)) for row in rows])
    return engine, table


# SQLite keeps NUMERIC as a double: the values are ones a double holds (a money bound would not)
ROWS = [(Decimal("1.2345"), Decimal("214748.3647"), datetime(2024, 3, 1, 12, 0, 0, 123456), "a", 1),
        (Decimal("-0.0001"), None, datetime(1900, 1, 1), None, 2),
        (None, Decimal("0.0001"), datetime(9999, 12, 31, 23, 59, 59, 999999), "c", 3)]


def _lake(tmp_path, amounts: list) -> tuple[object, str]:
    landed = pa.table({
        "amount": pa.array(amounts, pa.decimal128(12, 4)),
        "price": pa.array([r[1] for r in ROWS], pa.decimal128(19, 4)),
        "changed": pa.array([r[2] for r in ROWS], pa.timestamp("us")),
        "notes": pa.array([r[3] for r in ROWS], pa.string()),
        "n": pa.array([r[4] for r in ROWS], pa.int32())})
    path = str(tmp_path / "part.parquet")
    pq.write_table(landed, path)
    return fsspec.filesystem("file"), path


def _check(tmp_path, amounts: list):
    columns = [c for c in MSSQL_COLUMNS if c.name in ("amount", "price", "changed", "notes", "n")]
    plans = _plans(mssql_types, columns)
    engine, table = _source(ROWS)
    ranges = client_value_columns(plans)
    with engine.connect() as connection:
        rows, source = source_stats(connection, table, {n: table.c[n] for n in plans}, [], set(ranges), ranges,
                                    any_type_count=True)
    fs, path = _lake(tmp_path, amounts)
    return rows, source, compare(source, lake_stats(fs, [path], plans), set(ranges), {n: n for n in plans})


def test_client_scan_gives_typed_values_that_equal_what_landed(tmp_path):
    rows, source, check = _check(tmp_path, [r[0] for r in ROWS])
    assert rows == 3
    assert (source["amount"].non_null, source["price"].non_null, source["notes"].non_null) == (2, 2, 2)
    assert source["amount"].minimum == Decimal("-0.0001") and type(source["amount"].maximum) is Decimal
    assert source["changed"].maximum == datetime(9999, 12, 31, 23, 59, 59, 999999)
    assert check.status == "ok", check.message
    assert check.columns_checked == 5


def test_client_scan_catches_a_planted_truncation_naming_the_column(tmp_path):
    """The lake holds 1.2340 where the source holds 1.2345 (a scale cut on the way)."""
    _, _, check = _check(tmp_path, [Decimal("1.2340"), Decimal("-0.0001"), None])
    assert check.status == "mismatch"
    assert check.mismatches == ["column amount: max is 1.2345 in the source, 1.2340 in the lake"]


def test_client_scan_catches_a_value_lost_to_null(tmp_path):
    _, _, check = _check(tmp_path, [None, Decimal("-0.0001"), None])
    assert check.status == "mismatch"
    assert "column amount: 2 non-null values in the source, 1 in the lake" in check.mismatches

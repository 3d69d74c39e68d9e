"""The SQL Server and Oracle type maps (ingest/sources/mssql_types.py, oracle_types.py over
client_types.py): the SELECT each type compiles to with SQLAlchemy's mssql and oracle
dialects, the conversion of what pyodbc / python-oracledb return for it, what lands in Arrow,
the tables of docs/types.md generated from the same rules.

No SQL Server or Oracle server can run here: the tables are built as SQLAlchemy reflects them
(and as the catalog queries would return them), the drivers' values are made in the shapes
their documentation gives (pyodbc: Decimal, str for uniqueidentifier, the -155 struct that
SQLAlchemy's output converter decodes; python-oracledb: Decimal, float, timedelta,
oracledb.IntervalYM, LOB locators), and the SQL is compiled, never sent."""

from __future__ import annotations

import struct
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import oracledb
import pyarrow as pa
import pytest
import sqlalchemy as sa
from dlt.sources.sql_database.arrow_helpers import row_tuples_to_arrow
from sqlalchemy.dialects import mssql, oracle

from ingest.config.model import JobConfig, LoadType, SourceType
from ingest.core.errors import ConfigError, SourceValueError
from ingest.sources import mssql_types, oracle_types
from ingest.sources.client_types import Converted, SourceColumn, iso_duration, markdown_table, planned_column
from ingest.sources.sql import prepare_table

REPO = Path(__file__).resolve().parents[2]
MSSQL = sa.create_engine("mssql+pyodbc://").dialect
ORACLE = sa.create_engine("oracle+oracledb://").dialect


def compiled(type_map, column: SourceColumn, dialect, watermark: bool = False) -> str:
    """`SELECT <expression> FROM <table>` for one column planned by `type_map`."""
    schema, name = ("dbo", "T") if type_map is mssql_types else ("sales", "t")
    table = sa.Table(name, sa.MetaData(schema=schema), sa.Column("c", sa.Integer()))
    plan = type_map.plan_column(column, watermark=watermark)
    expression = table.c.c if plan.reads_as_is() else planned_column(plan, table.c.c, dialect)
    return " ".join(str(sa.select(expression).compile(dialect=dialect)).split())


def convert(type_map, column: SourceColumn, value, watermark: bool = False):
    """What the row holds after SQLAlchemy processed the driver's value (Converted)."""
    plan = type_map.plan_column(column, watermark=watermark)
    return Converted(plan, sa.String()).process_result_value(value, None)


def landed(type_map, column: SourceColumn, values: list, watermark: bool = False) -> pa.Array:
    """The Arrow column dlt builds from the converted values with the plan's hint."""
    plan = type_map.plan_column(column, watermark=watermark)
    rows = [(Converted(plan, sa.String()).process_result_value(v, None),) for v in values]
    table = row_tuples_to_arrow(rows, columns={"c": {"name": "c", **plan.hint}}, tz="UTC")
    return table.column("c")


# --- SQL Server ---

@pytest.mark.parametrize("column, sql", [
    (SourceColumn("c", "int"), "SELECT dbo.[T].c FROM dbo.[T]"),
    (SourceColumn("c", "money"), "SELECT dbo.[T].c FROM dbo.[T]"),
    (SourceColumn("c", "decimal", 38, 12), "SELECT dbo.[T].c FROM dbo.[T]"),
    (SourceColumn("c", "uniqueidentifier"), "SELECT dbo.[T].c AS c FROM dbo.[T]"),
    (SourceColumn("c", "timestamp"), "SELECT dbo.[T].c FROM dbo.[T]"),
    (SourceColumn("c", "datetime2", None, 7), "SELECT dbo.[T].c FROM dbo.[T]"),
    (SourceColumn("c", "time", None, 7), "SELECT dbo.[T].c FROM dbo.[T]"),
    (SourceColumn("c", "varbinary"), "SELECT dbo.[T].c FROM dbo.[T]"),
    (SourceColumn("c", "datetimeoffset", None, 7), "SELECT CAST(dbo.[T].c AS NVARCHAR(34)) AS c FROM dbo.[T]"),
    (SourceColumn("c", "xml"), "SELECT CAST(dbo.[T].c AS NVARCHAR(max)) AS c FROM dbo.[T]"),
    (SourceColumn("c", "geography"), "SELECT N'SRID=' + CAST(dbo.[T].c.STSrid AS NVARCHAR(11)) + N';' +"
                                     " dbo.[T].c.AsTextZM() AS c FROM dbo.[T]"),
    (SourceColumn("c", "geometry"), "SELECT N'SRID=' + CAST(dbo.[T].c.STSrid AS NVARCHAR(11)) + N';' +"
                                    " dbo.[T].c.AsTextZM() AS c FROM dbo.[T]"),
    (SourceColumn("c", "hierarchyid"), "SELECT dbo.[T].c.ToString() AS c FROM dbo.[T]"),
    (SourceColumn("c", "vector"), "SELECT CAST(dbo.[T].c AS NVARCHAR(max)) AS c FROM dbo.[T]"),
])
def test_sqlserver_select_per_type(column, sql):
    assert compiled(mssql_types, column, MSSQL) == sql


def test_sqlserver_sql_variant_keeps_its_base_type_and_an_exact_text_per_base_type():
    sql = compiled(mssql_types, SourceColumn("c", "sql_variant"), MSSQL)
    base = "CAST(SQL_VARIANT_PROPERTY(dbo.[T].c, 'BaseType') AS NVARCHAR(128))"
    assert sql.startswith(f"SELECT {base} + ':' + CASE WHEN ({base} IN ('binary', 'varbinary'))"
                          " THEN CONVERT(NVARCHAR(max), CAST(dbo.[T].c AS VARBINARY(8000)), 1)")
    assert f"WHEN ({base} IN ('float', 'real')) THEN CONVERT(NVARCHAR(max), CAST(dbo.[T].c AS FLOAT), 3)" in sql
    assert f"WHEN ({base} IN ('money', 'smallmoney')) THEN CONVERT(NVARCHAR(max), CAST(dbo.[T].c AS MONEY), 2)" in sql
    assert "THEN CAST(CAST(dbo.[T].c AS DATETIME2(7)) AS NVARCHAR(max))" in sql
    assert "THEN CAST(CAST(dbo.[T].c AS DATETIMEOFFSET(7)) AS NVARCHAR(max))" in sql
    assert sql.endswith("ELSE CAST(dbo.[T].c AS NVARCHAR(max)) END AS c FROM dbo.[T]")


@pytest.mark.parametrize("column, hint", [
    (SourceColumn("c", "bit"), {"data_type": "bool"}),
    (SourceColumn("c", "tinyint"), {"data_type": "bigint", "precision": 16}),
    (SourceColumn("c", "int"), {"data_type": "bigint", "precision": 32}),
    (SourceColumn("c", "decimal", 38, 38), {"data_type": "decimal", "precision": 38, "scale": 38}),
    (SourceColumn("c", "money"), {"data_type": "decimal", "precision": 19, "scale": 4}),
    (SourceColumn("c", "smallmoney"), {"data_type": "decimal", "precision": 10, "scale": 4}),
    (SourceColumn("c", "real"), {"data_type": "double"}),
    (SourceColumn("c", "nvarchar"), {"data_type": "text"}),
    (SourceColumn("c", "image"), {"data_type": "binary"}),
    (SourceColumn("c", "timestamp"), {"data_type": "binary"}),
    (SourceColumn("c", "datetime2", None, 7), {"data_type": "timestamp", "timezone": False, "precision": 6}),
    (SourceColumn("c", "time", None, 7), {"data_type": "time", "precision": 6}),
    (SourceColumn("c", "datetimeoffset", None, 7), {"data_type": "text"}),
])
def test_sqlserver_lands_as(column, hint):
    assert mssql_types.plan_column(column).hint == hint


def test_sqlserver_exact_values_land_exactly():
    """pyodbc returns decimal, numeric, money and smallmoney as Decimal."""
    money = landed(mssql_types, SourceColumn("c", "money"), [Decimal("922337203685477.5807"),
                                                            Decimal("-922337203685477.5808")])
    assert money.type == pa.decimal128(19, 4) and money.to_pylist()[1] == Decimal("-922337203685477.5808")
    small = landed(mssql_types, SourceColumn("c", "smallmoney"), [Decimal("-214748.3648")])
    assert small.to_pylist() == [Decimal("-214748.3648")]
    widest = Decimal("0." + "9" * 38)
    assert landed(mssql_types, SourceColumn("c", "decimal", 38, 38), [widest]).to_pylist() == [widest]
    nines = Decimal("9" * 38)
    assert landed(mssql_types, SourceColumn("c", "numeric", 38, 0), [nines]).to_pylist() == [nines]
    rowversion = landed(mssql_types, SourceColumn("c", "timestamp"), [b"\x00\x00\x00\x00\x00\x00\x07\xd1"])
    assert rowversion.type == pa.binary() and rowversion.to_pylist() == [b"\x00\x00\x00\x00\x00\x00\x07\xd1"]


@pytest.mark.parametrize("value", ["6F9619FF-8B86-D011-B42D-00C04FC964FF",
                                   uuid.UUID("6F9619FF-8B86-D011-B42D-00C04FC964FF")])
def test_sqlserver_uniqueidentifier_lands_lower_case_canonical(value):
    assert convert(mssql_types, SourceColumn("c", "uniqueidentifier"), value) == "6f9619ff-8b86-d011-b42d-00c04fc964ff"


@pytest.mark.parametrize("driver, lands", [
    ("2024-03-01 12:00:00.1234567 +02:00", "2024-03-01T12:00:00.1234567+02:00"),
    ("0001-01-01 00:00:00.0000000 -14:00", "0001-01-01T00:00:00.0000000-14:00"),
    ("9999-12-31 23:59:59.9999999 +14:00", "9999-12-31T23:59:59.9999999+14:00"),
    ("2024-03-01 12:00:00 -05:30", "2024-03-01T12:00:00-05:30"),
])
def test_sqlserver_datetimeoffset_lands_as_iso_text_with_offset_and_100ns(driver, lands):
    assert convert(mssql_types, SourceColumn("c", "datetimeoffset", None, 7), driver) == lands


def test_sqlserver_datetimeoffset_in_another_form_fails_naming_the_column():
    with pytest.raises(SourceValueError, match=r"column c \(datetimeoffset\(7\)\) gave 'Mar  1 2024 12:00PM'"):
        convert(mssql_types, SourceColumn("c", "datetimeoffset", None, 7), "Mar  1 2024 12:00PM")


def _sqlalchemy_datetimeoffset_converter():
    """The -155 output converter SQLAlchemy's pyodbc dialect registers on each connection."""
    converters = {}

    class Connection:
        def add_output_converter(self, sql_type, function):
            converters[sql_type] = function

    dialect = sa.create_engine("mssql+pyodbc://").dialect
    dialect.on_connect()(Connection())
    return converters[-155]


def test_sqlserver_100ns_digit_is_floored_by_the_driver_path():
    """The documented rule: datetimeoffset as the watermark, datetime2(7) and time(7) land as
    microseconds; SQLAlchemy's converter (like pyodbc for datetime2) divides nanoseconds by 1000."""
    raw = struct.pack("<6hI2h", 2024, 3, 1, 12, 0, 0, 123456700, 2, 0)
    value = _sqlalchemy_datetimeoffset_converter()(raw)
    assert value == datetime(2024, 3, 1, 10, 0, 0, 123456, tzinfo=timezone.utc)
    column = landed(mssql_types, SourceColumn("c", "datetimeoffset", None, 7), [value], watermark=True)
    assert column.type == pa.timestamp("us", tz="UTC")
    assert column.to_pylist() == [datetime(2024, 3, 1, 10, 0, 0, 123456, tzinfo=timezone.utc)]


# --- Oracle ---

@pytest.mark.parametrize("column, sql", [
    (SourceColumn("c", "number", 10, 2), "SELECT sales.t.c AS c FROM sales.t"),
    (SourceColumn("c", "number"), "SELECT sales.t.c AS c FROM sales.t"),
    (SourceColumn("c", "binary_double"), "SELECT sales.t.c FROM sales.t"),
    (SourceColumn("c", "date"), "SELECT sales.t.c FROM sales.t"),
    (SourceColumn("c", "timestamp", None, 9), "SELECT sales.t.c FROM sales.t"),
    (SourceColumn("c", "raw"), "SELECT sales.t.c FROM sales.t"),
    (SourceColumn("c", "timestamp with time zone", None, 6),
     "SELECT to_char(sales.t.c, 'YYYY-MM-DD\"T\"HH24:MI:SS.FF9TZH:TZM') AS c FROM sales.t"),
    (SourceColumn("c", "timestamp with local time zone", None, 6),
     "SELECT SYS_EXTRACT_UTC(CAST(sales.t.c AS TIMESTAMP(9) WITH TIME ZONE)) AS c FROM sales.t"),
    (SourceColumn("c", "interval year to month"), "SELECT sales.t.c AS c FROM sales.t"),
    (SourceColumn("c", "interval day to second", None, 6), "SELECT sales.t.c AS c FROM sales.t"),
    (SourceColumn("c", "xmltype"), "SELECT XMLSERIALIZE(CONTENT sales.t.c AS CLOB) AS c FROM sales.t"),
    (SourceColumn("c", "rowid"), "SELECT rowidtochar(sales.t.c) AS c FROM sales.t"),
    (SourceColumn("c", "urowid"), "SELECT CAST(sales.t.c AS VARCHAR2(4000 CHAR)) AS c FROM sales.t"),
    (SourceColumn("c", "json"), "SELECT JSON_SERIALIZE(sales.t.c RETURNING CLOB) AS c FROM sales.t"),
    (SourceColumn("c", "clob"), "SELECT sales.t.c AS c FROM sales.t"),
])
def test_oracle_select_per_type(column, sql):
    assert compiled(oracle_types, column, ORACLE) == sql


def test_oracle_zoned_watermark_is_read_as_its_utc_instant():
    sql = compiled(oracle_types, SourceColumn("c", "timestamp with time zone", None, 6), ORACLE, watermark=True)
    assert sql == "SELECT sys_extract_utc(sales.t.c) AS c FROM sales.t"


@pytest.mark.parametrize("precision, scale, hint", [
    (4, 0, {"data_type": "bigint", "precision": 16}),
    (9, 0, {"data_type": "bigint", "precision": 32}),
    (18, 0, {"data_type": "bigint", "precision": 64}),
    (19, 0, {"data_type": "decimal", "precision": 19, "scale": 0}),
    (None, 0, {"data_type": "decimal", "precision": 38, "scale": 0}),  # INTEGER, NUMBER(*,0)
    (12, 2, {"data_type": "decimal", "precision": 12, "scale": 2}),
    (3, 5, {"data_type": "decimal", "precision": 5, "scale": 5}),  # 0.00999 at most
    (5, -3, {"data_type": "decimal", "precision": 8, "scale": 0}),  # 99999000 at most
    (38, -38, {"data_type": "decimal", "precision": 76, "scale": 0}),
    (38, -39, {"data_type": "text"}),
    (None, None, {"data_type": "text"}),
])
def test_oracle_number_lands_in_a_type_that_holds_every_value(precision, scale, hint):
    assert oracle_types.plan_column(SourceColumn("c", "number", precision, scale)).hint == hint


def test_oracle_float_is_text_not_a_double():
    assert oracle_types.plan_column(SourceColumn("c", "float", 126)).hint == {"data_type": "text"}


def test_oracle_numbers_land_exactly():
    negative_scale = landed(oracle_types, SourceColumn("c", "number", 5, -3), [Decimal("99999000"), Decimal("-1E+3")])
    assert negative_scale.type == pa.decimal128(8, 0) and negative_scale.to_pylist() == [99999000, -1000]
    wide = landed(oracle_types, SourceColumn("c", "number", 38, -38), [Decimal("9" * 38 + "0" * 38)])
    assert wide.type == pa.decimal256(76, 0) and wide.to_pylist() == [Decimal("9" * 38 + "0" * 38)]
    small = landed(oracle_types, SourceColumn("c", "number", 3, 5), [Decimal("0.00999"), Decimal("-0.00001")])
    assert small.to_pylist() == [Decimal("0.00999"), Decimal("-0.00001")]
    integers = landed(oracle_types, SourceColumn("c", "number", 18, 0), [Decimal("999999999999999999")])
    assert integers.type == pa.int64() and integers.to_pylist() == [999999999999999999]


@pytest.mark.parametrize("driver, lands", [
    (Decimal("1E+125"), "1" + "0" * 125),
    (Decimal("1E-130"), "0." + "0" * 129 + "1"),
    (Decimal("-12345678901234567890123456789012345678"), "-12345678901234567890123456789012345678"),
    (Decimal("0.1234567890123456789012345678901234567"), "0.1234567890123456789012345678901234567"),
    (Decimal("1.5"), "1.5"),
    (Decimal("Infinity"), "Infinity"),
    (Decimal("-Infinity"), "-Infinity"),
])
def test_oracle_number_without_precision_lands_as_exact_text(driver, lands):
    assert convert(oracle_types, SourceColumn("c", "number"), driver) == lands


def test_oracle_infinite_number_in_a_decimal_column_fails_naming_the_column():
    with pytest.raises(SourceValueError, match=r"column amount \(number\(12,2\)\) holds Infinity, which no decimal"):
        convert(oracle_types, SourceColumn("amount", "number", 12, 2), Decimal("Infinity"))


def test_oracle_number_is_fetched_as_decimal_through_the_plans_type():
    """SQLAlchemy's oracledb dialect sets a cursor output type handler from each result
    column's type: the planned column's (Converted over NUMBER asdecimal) asks for Decimal."""
    plan = oracle_types.plan_column(SourceColumn("c", "number"))
    asked = []

    class Cursor:
        arraysize = 100

        def var(self, type_, *args, **kwargs):
            asked.append(type_)

    column_type = planned_column(plan, sa.column("c"), ORACLE).type
    handler = column_type._cached_custom_processor(
        ORACLE, "cx_oracle_outputtypehandler", lambda impl: impl._cx_oracle_outputtypehandler(ORACLE))
    handler(Cursor(), "C", oracledb.DB_TYPE_NUMBER, 0, 0, -127)
    assert asked == [Decimal]


def test_oracle_binary_floats_keep_nan_and_infinity():
    column = landed(oracle_types, SourceColumn("c", "binary_float"), [float("nan"), float("inf"), float("-inf"), 1.5])
    values = column.to_pylist()
    assert column.type == pa.float64() and values[0] != values[0] and values[1:] == [float("inf"), float("-inf"), 1.5]


@pytest.mark.parametrize("driver, lands", [
    (oracledb.IntervalYM(1, 2), "P1Y2M"),
    (oracledb.IntervalYM(-1, -2), "-P1Y2M"),
    (oracledb.IntervalYM(0, -1), "-P0Y1M"),
    (oracledb.IntervalYM(999999999, 11), "P999999999Y11M"),
    (oracledb.IntervalYM(0, 0), "P0Y0M"),
])
def test_oracle_interval_year_to_month_lands_as_iso_8601(driver, lands):
    assert convert(oracle_types, SourceColumn("c", "interval year to month"), driver) == lands


@pytest.mark.parametrize("driver, lands", [
    (timedelta(days=1, hours=2, minutes=3, seconds=4, microseconds=500000), "P1DT2H3M4.5S"),
    (timedelta(microseconds=-1), "-PT0.000001S"),
    (timedelta(0), "PT0S"),
    (timedelta(days=-1), "-P1D"),
    (timedelta(days=-1, seconds=1), "-PT23H59M59S"),
    (timedelta(days=999999999, hours=23, minutes=59, seconds=59, microseconds=999999),
     "P999999999DT23H59M59.999999S"),
])
def test_oracle_interval_day_to_second_lands_as_iso_8601(driver, lands):
    assert convert(oracle_types, SourceColumn("c", "interval day to second", None, 6), driver) == lands
    assert iso_duration(driver) == lands


@pytest.mark.parametrize("text, lands", [
    ("+01 02:03:04.123456789", "P1DT2H3M4.123456789S"),
    ("-00 00:00:00.000000100", "-PT0.0000001S"),
    ("+000000000 00:00:05.000000000", "PT5S"),
    ("-999999999 23:59:59.999999999", "-P999999999DT23H59M59.999999999S"),
    ("+00 00:00:00", "PT0S"),
])
def test_oracle_interval_with_more_than_six_digits_is_read_as_text_and_lands_exactly(text, lands):
    """INTERVAL DAY TO SECOND(9): the driver's timedelta holds microseconds, so the server's
    TO_CHAR text is read and every digit lands."""
    column = SourceColumn("c", "interval day to second", None, 9)
    assert compiled(oracle_types, column, ORACLE) == "SELECT to_char(sales.t.c) AS c FROM sales.t"
    assert convert(oracle_types, column, text) == lands


def test_oracle_interval_text_in_another_form_fails_naming_the_column():
    with pytest.raises(SourceValueError, match=r"column c \(interval day to second\(9\)\) gave '1 day'"):
        convert(oracle_types, SourceColumn("c", "interval day to second", None, 9), "1 day")


def test_oracle_lobs_are_read_whole():
    class Lob:
        def read(self):
            return "x" * 70_000

    assert convert(oracle_types, SourceColumn("c", "clob"), Lob()) == "x" * 70_000
    assert convert(oracle_types, SourceColumn("c", "clob"), "plain") == "plain"


@pytest.mark.parametrize("row, column", [
    ({"name": "CREATED_AT", "type_name": "TIMESTAMP(6) WITH TIME ZONE", "precision": None, "scale": 6},
     SourceColumn("created_at", "timestamp with time zone", None, 6)),
    ({"name": "SPAN", "type_name": "INTERVAL DAY(2) TO SECOND(6)", "precision": 2, "scale": 6},
     SourceColumn("span", "interval day to second", None, 6)),
    ({"name": "RATIO", "type_name": "NUMBER", "precision": None, "scale": None}, SourceColumn("ratio", "number")),
    ({"name": "Mixed", "type_name": "XMLTYPE", "precision": None, "scale": None}, SourceColumn("Mixed", "xmltype")),
])
def test_oracle_catalog_rows_become_columns(row, column):
    assert oracle_types.column_from_catalog(row, ORACLE) == column


def test_sqlserver_catalog_rows_become_columns():
    row = {"name": "Stamp", "type_name": "datetimeoffset", "precision": 34, "scale": 7, "length": 10}
    assert mssql_types.column_from_catalog(row) == SourceColumn("Stamp", "datetimeoffset", None, 7)
    row = {"name": "Geo", "type_name": "geography", "precision": 0, "scale": 0, "length": -1}
    assert mssql_types.column_from_catalog(row) == SourceColumn("Geo", "geography")


# --- the read path: plans chosen before the load ---

def _job(source_type: SourceType, watermark: str | None = None) -> JobConfig:
    return JobConfig(job_name="things", enabled=True, source_type=source_type, connection="src",
                     source_table="T", load_type=LoadType.INCREMENTAL if watermark else LoadType.FULL,
                     watermark_column=watermark)


def test_catalog_types_win_over_what_sqlalchemy_could_not_reflect():
    """SQLAlchemy reflects geography as NullType; the catalog's row names it."""
    table = sa.Table("T", sa.MetaData(schema="dbo"), sa.Column("Geo", sa.types.NullType()),
                     sa.Column("Id", sa.INTEGER()))
    reflected = prepare_table(table, _job(SourceType.MSSQL), "mssql", catalog={"Geo": SourceColumn("Geo", "geography")})
    assert reflected.client_plans["Geo"].rule is mssql_types.R_SPATIAL
    assert reflected.client_plans["Id"].rule is mssql_types.R_INT  # from the reflected type


def test_oracle_type_without_exact_form_fails_before_reading_naming_the_column():
    table = sa.Table("t", sa.MetaData(schema="gis"), sa.Column("shape", sa.types.NullType()))
    with pytest.raises(SourceValueError, match=r"column shape \(sdo_geometry\) of table gis.t has no exact form"):
        prepare_table(table, _job(SourceType.ORACLE), "oracle", catalog={"shape": SourceColumn("shape", "sdo_geometry")})


@pytest.mark.parametrize("dialect, column_type, declared", [
    ("mssql", mssql.DATETIMEOFFSET(7), None),
    ("mssql", mssql.SQL_VARIANT(), "sql_variant"),
    ("oracle", oracle.NUMBER(), "number"),
])
def test_a_watermark_that_lands_as_text_is_refused(dialect, column_type, declared):
    table = sa.Table("T", sa.MetaData(), sa.Column("W", column_type))
    job = _job(SourceType.MSSQL if dialect == "mssql" else SourceType.ORACLE, watermark="W")
    if declared is None:  # datetimeoffset: its UTC instant lands as the watermark
        assert prepare_table(table, job, dialect).client_plans["W"].hint["data_type"] == "timestamp"
        return
    with pytest.raises(ConfigError, match=rf"watermark_column 'W' \({declared}\) lands as text"):
        prepare_table(table, job, dialect)


def test_conversion_runs_as_sqlalchemy_fetches_the_rows():
    """Converted is a SQLAlchemy type: its conversion runs in the result processing that dlt's
    pyarrow backend reads rows from (run on SQLite, the only server here for this)."""
    plan = mssql_types.plan_column(SourceColumn("u", "uniqueidentifier"))
    expression = planned_column(plan, sa.literal_column("'6F9619FF-8B86-D011-B42D-00C04FC964FF'").label("u"), None)
    with sa.create_engine("sqlite://").connect() as connection:
        rows = [row._data for row in connection.execute(sa.select(expression))]
    assert rows == [("6f9619ff-8b86-d011-b42d-00c04fc964ff",)]


# --- docs/types.md ---

@pytest.mark.parametrize("marker, title, rules", [
    ("mssql-types", "SQL Server", mssql_types.TYPE_RULES),
    ("oracle-types", "Oracle", oracle_types.TYPE_RULES),
])
def test_the_types_page_tables_are_generated_from_the_rules(marker, title, rules):
    from tests.docs_pages import docs_page

    page = docs_page("types")
    start = page.index(f"<!-- {marker}:start")
    start = page.index("\n", start) + 1
    end = page.index(f"<!-- {marker}:end -->")
    assert page[start:end].strip() == markdown_table(title, rules)

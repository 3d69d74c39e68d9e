"""A dlt sql_table resource per dialect, built without a server, and the SQL it runs.

No Oracle or SQL Server runs here, so each test builds the Table as SQLAlchemy's reflection
returns it (same type classes, Oracle's lower-cased names) and an engine from ingest's own URL
builders that is never connected. The resource is evaluated by dlt itself (incremental bound,
table loader chosen, query made); only the loader's execution step, which needs a server, is
replaced by one that records the query (`captured_query`). The SQL is then compiled with the
dialect as dlt does: with literal binds (`compile_query`, the connectorx path) and with bind
parameters (the pyarrow path)."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
import sqlalchemy as sa
from dlt.sources.sql_database.arrow_helpers import row_tuples_to_arrow
from dlt.sources.sql_database.helpers import TableLoader
from sqlalchemy.dialects import mssql, oracle

from ingest.config.model import JobConfig, LoadType, SourceType
from ingest.core.errors import SettingError, SourceObjectNotFoundError
from ingest.sources.connections import build_connection
from ingest.sources.dialects import choose_backend
from ingest.sources.literals import wrap_watermark_type
from ingest.sources.sql import build_resource, coerce_watermark, make_engine, prepare_table

WATERMARK = "2024-03-01T12:00:00.123456"


def oracle_orders() -> sa.Table:
    """`SALES.ORDERS` as SQLAlchemy reflects it from Oracle: names lower-cased, NUMBER kinds."""
    return sa.Table(
        "orders", sa.MetaData(schema="sales"),
        sa.Column("id", oracle.NUMBER(10, 0), nullable=False),
        sa.Column("amount", oracle.NUMBER(12, 2)),
        sa.Column("qty", sa.INTEGER()),  # NUMBER(*,0) / INTEGER
        sa.Column("ratio", oracle.NUMBER()),  # NUMBER without precision
        sa.Column("score", oracle.BINARY_DOUBLE()),
        sa.Column("name", oracle.VARCHAR2(100)),
        sa.Column("booked", oracle.DATE()),
        sa.Column("created_at", oracle.TIMESTAMP(timezone=True)),
        sa.Column("updated_at", oracle.TIMESTAMP()),
    )


def sqlserver_orders() -> sa.Table:
    """`dbo.Orders` as SQLAlchemy reflects it from SQL Server."""
    return sa.Table(
        "Orders", sa.MetaData(schema="dbo"),
        sa.Column("OrderID", sa.INTEGER(), nullable=False),
        sa.Column("Amount", mssql.MONEY()),
        sa.Column("Price", sa.NUMERIC(12, 2)),
        sa.Column("Name", sa.NVARCHAR(100)),
        sa.Column("Legacy", sa.DATETIME()),
        sa.Column("Stamp", mssql.DATETIMEOFFSET(7)),
        sa.Column("UpdatedAt", mssql.DATETIME2(7)),
    )


CONNECTIONS = {
    SourceType.ORACLE: {"host": "127.0.0.1", "port": 1, "service_name": "ORCLPDB1", "username": "u",
                        "password": "pw-unused-1"},
    SourceType.MSSQL: {"host": "127.0.0.1", "port": 1, "database": "sales", "username": "u",
                       "password": "pw-unused-1", "driver": "FreeTDS", "encrypt": "no"},
    SourceType.AZURE_SQL: {"host": "127.0.0.1", "port": 1, "database": "sales", "username": "u",
                           "password": "pw-unused-1"},
}


def job_for(source_type: SourceType, incremental: bool, **values) -> JobConfig:
    names = ({"source_schema": "SALES", "source_table": "ORDERS", "watermark_column": "UPDATED_AT",
              "primary_key": ("ID",)} if source_type is SourceType.ORACLE else
             {"source_schema": "dbo", "source_table": "Orders", "watermark_column": "updatedat",
              "primary_key": ("orderid",)})
    names.update(values)
    return JobConfig(job_name="orders", enabled=True, source_type=source_type, connection="src",
                     load_type=LoadType.INCREMENTAL if incremental else LoadType.FULL,
                     last_watermark=WATERMARK if incremental else None,
                     **{**names, "watermark_column": names["watermark_column"] if incremental else None})


def resource_for(source_type: SourceType, incremental: bool, **values):
    engine = make_engine(build_connection("src", source_type, CONNECTIONS[source_type]))
    connects: list[int] = []
    sa.event.listen(engine, "do_connect", lambda *args: connects.append(1))
    table = oracle_orders() if source_type is SourceType.ORACLE else sqlserver_orders()
    job = job_for(source_type, incremental, **values)
    reflected = prepare_table(table, job, engine.dialect.name)
    return build_resource(job, engine, reflected, chunk_size=5000), engine, connects


def captured_query(resource, monkeypatch):
    """Evaluate the resource in dlt and keep the loader and the query it would execute."""
    captured = []
    monkeypatch.setattr(TableLoader, "_load_rows", lambda self, query, kwargs: captured.append((self, query)) or iter(()))
    assert list(resource) == []
    return captured[0]


@pytest.mark.parametrize("source_type", [SourceType.ORACLE, SourceType.MSSQL, SourceType.AZURE_SQL])
def test_resource_per_dialect_is_built_without_a_server(source_type, monkeypatch):
    resource, engine, connects = resource_for(source_type, incremental=True)
    assert resource.name == ("orders" if source_type is SourceType.ORACLE else "Orders")
    assert resource.write_disposition == "append"
    assert resource.compute_table_schema()["name"] == "orders"
    loader, _ = captured_query(resource, monkeypatch)
    assert loader.backend == "pyarrow" and isinstance(loader, TableLoader)
    if source_type is not SourceType.ORACLE:  # datetime2(7): the 100 ns digit lands beside it, typed
        assert loader.columns["UpdatedAt_nanos"] == {"name": "UpdatedAt_nanos", "data_type": "bigint", "precision": 16}
    assert loader.cursor_column.name == ("updated_at" if source_type is SourceType.ORACLE else "UpdatedAt")
    assert loader.incremental.cursor_path == loader.cursor_column.name  # the source's spelling
    assert connects == [] and engine.pool.checkedout() == 0  # nothing was connected


def test_oracle_columns_keep_exact_types():
    resource, _, _ = resource_for(SourceType.ORACLE, incremental=False)
    columns = resource.columns
    assert resource.compute_table_schema()["columns"]["id"]["primary_key"] is True
    assert (columns["id"]["data_type"], columns["id"]["precision"]) == ("bigint", 64)  # NUMBER(10)
    assert (columns["amount"]["data_type"], columns["amount"]["precision"], columns["amount"]["scale"]) == \
        ("decimal", 12, 2)
    assert (columns["qty"]["data_type"], columns["qty"]["precision"], columns["qty"]["scale"]) == ("decimal", 38, 0)
    assert columns["ratio"]["data_type"] == "text"  # NUMBER without precision: exact text (oracle_types.py)
    assert columns["score"]["data_type"] == "double"
    assert columns["booked"]["data_type"] == "timestamp" and not columns["booked"].get("timezone")
    assert columns["created_at"]["data_type"] == "text"  # ISO 8601 with its offset
    assert columns["updated_at"]["data_type"] == "timestamp" and not columns["updated_at"]["timezone"]
    # what python-oracledb returns for NUMBER (Decimal) lands exact, and a too-long fraction fails
    table = row_tuples_to_arrow([(Decimal("1234567890"), Decimal("9999999999.99"), Decimal("1" * 38))],
                                columns={k: columns[k] for k in ("id", "amount", "qty")}, tz="UTC")
    assert [str(f.type) for f in table.schema] == ["int64", "decimal128(12, 2)", "decimal128(38, 0)"]
    assert table.to_pylist()[0]["qty"] == Decimal("1" * 38)
    with pytest.raises(Exception, match="precision"):
        row_tuples_to_arrow([(Decimal("0.333"),)], columns={"amount": columns["amount"]}, tz="UTC")


def test_sqlserver_money_is_decimal_and_offsets_keep_their_zone():
    """datetimeoffset lands as ISO text with its offset; as the watermark, as its UTC instant."""
    resource, _, _ = resource_for(SourceType.MSSQL, incremental=False)
    columns = resource.columns
    assert (columns["Amount"]["data_type"], columns["Amount"]["precision"], columns["Amount"]["scale"]) == \
        ("decimal", 19, 4)
    assert (columns["OrderID"]["data_type"], columns["OrderID"]["precision"]) == ("bigint", 32)
    assert columns["Stamp"]["data_type"] == "text" and columns["UpdatedAt"]["timezone"] is False
    resource, _, _ = resource_for(SourceType.MSSQL, incremental=True, watermark_column="stamp")
    assert (resource.columns["Stamp"]["data_type"], resource.columns["Stamp"]["timezone"]) == ("timestamp", True)


@pytest.mark.parametrize("source_type, expected", [
    (SourceType.ORACLE, "SELECT sales.orders.id AS id, sales.orders.amount AS amount, sales.orders.qty AS qty,"
                        " sales.orders.ratio AS ratio, sales.orders.score, sales.orders.name, sales.orders.booked,"
                        " to_char(sales.orders.created_at, 'YYYY-MM-DD\"T\"HH24:MI:SS.FF9TZH:TZM') AS created_at,"
                        " sales.orders.updated_at FROM sales.orders"),
    (SourceType.MSSQL, 'SELECT dbo.[Orders].[OrderID], dbo.[Orders].[Amount], dbo.[Orders].[Price],'
                       ' dbo.[Orders].[Name], dbo.[Orders].[Legacy], CAST(dbo.[Orders].[Stamp] AS NVARCHAR(34)) AS [Stamp],'
                       ' dbo.[Orders].[UpdatedAt], DATEPART(nanosecond, dbo.[Orders].[UpdatedAt]) % 1000 AS'
                       ' [UpdatedAt_nanos] FROM dbo.[Orders]'),
])
def test_full_load_sql(source_type, expected, monkeypatch):
    resource, _, _ = resource_for(source_type, incremental=False)
    loader, query = captured_query(resource, monkeypatch)
    assert " ".join(loader.compile_query(query).split()) == expected


@pytest.mark.parametrize("source_type, where", [
    (SourceType.ORACLE, "WHERE sales.orders.updated_at >= TO_TIMESTAMP('2024-03-01 12:00:00.123456',"
                        " 'YYYY-MM-DD HH24:MI:SS.FF6') AND sales.orders.updated_at IS NOT NULL"),
    (SourceType.MSSQL, "WHERE dbo.[Orders].[UpdatedAt] >= '2024-03-01T12:00:00.123456' AND"
                       " dbo.[Orders].[UpdatedAt] IS NOT NULL"),
    (SourceType.AZURE_SQL, "WHERE dbo.[Orders].[UpdatedAt] >= '2024-03-01T12:00:00.123456' AND"
                           " dbo.[Orders].[UpdatedAt] IS NOT NULL"),
])
def test_incremental_sql_keeps_microseconds_as_literal_and_as_bound_parameter(source_type, where, monkeypatch):
    resource, engine, _ = resource_for(source_type, incremental=True)
    loader, query = captured_query(resource, monkeypatch)
    sql = " ".join(loader.compile_query(query).split())
    assert sql.endswith(where) and "ORDER BY" not in sql  # ingest does not order: it streams
    compiled = query.compile(engine)  # the pyarrow path: a parameter, processed as the dialect does
    (name, value), = compiled.construct_params().items()
    processor = compiled._bind_processors.get(name)
    bound = processor(value) if processor else value
    assert bound == datetime(2024, 3, 1, 12, 0, 0, 123456)


def test_oracle_time_zone_columns_are_read_as_utc_and_filtered_on_the_column(monkeypatch):
    """python-oracledb gives TIMESTAMP WITH TIME ZONE as the naive wall-clock time of the
    value's offset; SYS_EXTRACT_UTC gives the instant, which the lake stores as UTC."""
    resource, _, _ = resource_for(SourceType.ORACLE, incremental=True, watermark_column="CREATED_AT")
    loader, query = captured_query(resource, monkeypatch)
    sql = " ".join(loader.compile_query(query).split())
    assert "sys_extract_utc(sales.orders.created_at) AS created_at" in sql
    assert sql.endswith("WHERE sales.orders.created_at >= TO_TIMESTAMP_TZ('2024-03-01 12:00:00.123456 +00:00',"
                        " 'YYYY-MM-DD HH24:MI:SS.FF6 TZH:TZM') AND sales.orders.created_at IS NOT NULL")
    assert loader.cursor_column.name == "created_at"


@pytest.mark.parametrize("source_type, paging", [
    (SourceType.ORACLE, "FETCH FIRST 15000 ROWS ONLY"),  # dlt limits to 3 chunks of 5000 rows
    (SourceType.MSSQL, "SELECT TOP 15000 dbo.[Orders].[OrderID]"),
])
def test_paging_with_a_limit_uses_the_dialects_syntax(source_type, paging, monkeypatch):
    resource, _, _ = resource_for(source_type, incremental=True)
    loader, query = captured_query(resource.add_limit(3), monkeypatch)
    sql = " ".join(loader.compile_query(query).split())
    assert paging in sql and "2024-03-01" in sql


@pytest.mark.parametrize("dialect, column_type, value, expected", [
    ("mssql", mssql.DATETIME2(7), datetime(2024, 3, 1, 12, 0, 0, 123456), "'2024-03-01T12:00:00.123456'"),
    ("mssql", mssql.DATETIME2(7), datetime(2024, 3, 1, 13, 0, 0, 123456, tzinfo=timezone.utc).astimezone(),
     "'2024-03-01T13:00:00.123456'"),
    ("mssql", sa.DATETIME(), datetime(2024, 3, 1, 12, 0, 0, 123999), "'2024-03-01T12:00:00.123'"),
    ("mssql", mssql.SMALLDATETIME(), datetime(2024, 3, 1, 12, 0, 31), "'2024-03-01T12:00:00'"),
    ("mssql", mssql.DATETIMEOFFSET(), datetime(2024, 3, 1, 12, 0, 0, 5), "'2024-03-01T12:00:00.000005+00:00'"),
    ("mssql", sa.DATE(), date(2024, 3, 1), "'2024-03-01'"),
    ("oracle", oracle.TIMESTAMP(), datetime(2024, 3, 1, 12, 0, 0, 5),
     "TO_TIMESTAMP('2024-03-01 12:00:00.000005', 'YYYY-MM-DD HH24:MI:SS.FF6')"),
    ("oracle", oracle.TIMESTAMP(timezone=True), datetime(2024, 3, 1, 12, 0, 0, 123456, tzinfo=timezone.utc),
     "TO_TIMESTAMP_TZ('2024-03-01 12:00:00.123456 +00:00', 'YYYY-MM-DD HH24:MI:SS.FF6 TZH:TZM')"),
    ("oracle", oracle.DATE(), datetime(2024, 3, 1, 12, 0, 31, 999999),
     "TO_DATE('2024-03-01 12:00:31', 'YYYY-MM-DD HH24:MI:SS')"),
    ("oracle", oracle.TIMESTAMP(), "2024-03-01T12:00:00.123456+00:00",
     "TO_TIMESTAMP('2024-03-01 12:00:00.123456', 'YYYY-MM-DD HH24:MI:SS.FF6')"),
])
def test_watermark_literal_per_column_type(dialect, column_type, value, expected):
    table = sa.Table("t", sa.MetaData(), sa.Column("c", wrap_watermark_type(column_type, dialect)))
    engine = sa.create_engine("oracle+oracledb://" if dialect == "oracle" else "mssql+pyodbc://")
    sql = str(sa.select(table).where(table.c.c >= value).compile(engine, compile_kwargs={"literal_binds": True}))
    assert sql.endswith(f"WHERE t.c >= {expected}")


@pytest.mark.parametrize("url, column_type, value, broken", [
    ("mssql+pyodbc://", sa.DATETIME(), datetime(2024, 3, 1, 12, 0, 0, 123456), "'2024-03-01 12:00:00.123456'"),
    ("oracle+oracledb://", oracle.TIMESTAMP(timezone=True), datetime(2024, 3, 1, 12, 0, 0, 1, tzinfo=timezone.utc),
     "TO_TIMESTAMP('2024-03-01 12:00:00.000001+00:00', 'YYYY-MM-DD HH24:MI:SS.FF')"),
])
def test_sqlalchemy_alone_renders_literals_the_servers_reject(url, column_type, value, broken):
    """Why literals.py exists: SQL Server cannot convert six fractional digits to DATETIME
    (error 241); Oracle's format has no room for '+00:00' (ORA-01830). If SQLAlchemy changes
    this, this test fails and literals.py can be revisited."""
    table = sa.Table("t", sa.MetaData(), sa.Column("c", column_type))
    sql = str(sa.select(table).where(table.c.c >= value).compile(sa.create_engine(url),
                                                                 compile_kwargs={"literal_binds": True}))
    assert sql.endswith(f"WHERE t.c >= {broken}")


def test_job_names_resolve_to_the_sources_spelling_and_unknown_ones_are_listed():
    reflected = prepare_table(oracle_orders(), job_for(SourceType.ORACLE, True), "oracle")
    assert (reflected.watermark_column, reflected.primary_key) == ("updated_at", ("id",))
    with pytest.raises(SourceObjectNotFoundError, match=r"watermark_column 'CHANGED_AT' is not a column of"
                                                        r" sales.orders \(columns: id, amount, qty"):
        prepare_table(oracle_orders(), job_for(SourceType.ORACLE, True, watermark_column="CHANGED_AT"), "oracle")
    twins = sa.Table("t", sa.MetaData(), sa.Column("Code", sa.INTEGER()), sa.Column("CODE", sa.INTEGER()))
    with pytest.raises(SourceObjectNotFoundError, match="primary_key 'code'"):
        prepare_table(twins, job_for(SourceType.MSSQL, False, primary_key=("code",)), "mssql")


def test_oracle_number_watermarks_coerce_to_decimals():
    job = job_for(SourceType.ORACLE, True)
    assert coerce_watermark("12.50", oracle.NUMBER(12, 2, asdecimal=True), job) == Decimal("12.50")
    assert coerce_watermark(1000, oracle.NUMBER(10, 0, asdecimal=True), job) == 1000


def test_backend_per_dialect():
    assert [choose_backend(d) for d in ("postgresql", "sqlite", "oracle", "mssql")] == \
        ["connectorx", "pyarrow", "pyarrow", "pyarrow"]
    assert choose_backend("oracle", "sqlalchemy") == "sqlalchemy"
    with pytest.raises(SettingError, match="INGEST_SQL_BACKEND=connectorx cannot read oracle sources"):
        choose_backend("oracle", "connectorx")
    with pytest.raises(SettingError, match="cannot read mssql sources"):
        choose_backend("mssql", "connectorx")

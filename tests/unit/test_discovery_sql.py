"""Discovery without a server: the statistics queries each dialect runs, compiled as that dialect
compiles them (no SQL Server or Oracle can run here, so their SQL is asserted as text), and the
proposals for tables described by hand (SQL Server rowversion, Oracle's upper-case names,
names dlt rewrites, collisions)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import mssql, oracle, postgresql, sqlite

from ingest.config.model import SourceType
from ingest.sources.discovery import catalog_sql
from ingest.sources.discovery.catalog import Catalog, CatalogColumn, CatalogTable, selected
from ingest.sources.discovery.discover import infer_source_type
from ingest.sources.discovery.proposals import NameBook, choose_watermark, job_name_for, propose


def compiled(statement, dialect) -> str:
    return " ".join(str(statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True})).split())


def test_sql_server_row_estimates_read_sys_partitions_of_the_heap_or_clustered_index():
    sql = compiled(catalog_sql.sqlserver_row_estimates("sales"), mssql.dialect())
    assert sql == ("SELECT sys.tables.name AS table_name, sum(sys.partitions.rows) AS row_estimate FROM sys.tables"
                   " JOIN sys.schemas ON sys.schemas.schema_id = sys.tables.schema_id JOIN sys.partitions ON"
                   " sys.partitions.object_id = sys.tables.object_id WHERE sys.schemas.name = 'sales' AND"
                   " sys.partitions.index_id IN (0, 1) GROUP BY sys.tables.name")
    assert "count(" not in sql.lower()
    params = catalog_sql.sqlserver_row_estimates("sales").compile(dialect=mssql.dialect()).params
    assert params["schema"] == "sales"  # a bound parameter, never pasted into the SQL


def test_oracle_row_estimates_read_all_tables_num_rows_of_the_owner():
    statement = catalog_sql.oracle_row_estimates("SALES")
    assert compiled(statement, oracle.dialect()) == (
        "SELECT all_tables.table_name, all_tables.num_rows AS row_estimate FROM all_tables"
        " WHERE all_tables.owner = 'SALES'")
    assert "owner = :owner" in " ".join(str(statement.compile(dialect=oracle.dialect())).split())


def test_postgres_statistics_queries():
    estimates = compiled(catalog_sql.postgres_row_estimates("public"), postgresql.dialect())
    assert "CAST(pg_catalog.pg_class.reltuples AS BIGINT)" in estimates
    assert "pg_catalog.pg_class.relkind IN ('r', 'p', 'm')" in estimates
    correlations = compiled(catalog_sql.postgres_correlations("public"), postgresql.dialect())
    assert correlations == ("SELECT pg_catalog.pg_stats.tablename AS table_name, pg_catalog.pg_stats.attname AS"
                            " column_name, pg_catalog.pg_stats.correlation FROM pg_catalog.pg_stats WHERE"
                            " pg_catalog.pg_stats.schemaname = 'public'")
    assert "relispartition" in compiled(catalog_sql.postgres_partitions("public"), postgresql.dialect())


def test_sqlite_row_estimates_come_from_sqlite_stat1():
    engine = sa.create_engine("sqlite://")
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE t (id integer primary key, v text)")
        connection.exec_driver_sql("CREATE INDEX t_v ON t (v)")
        connection.exec_driver_sql("INSERT INTO t (v) SELECT 'x' FROM (SELECT 1 UNION SELECT 2 UNION SELECT 3)")
        connection.exec_driver_sql("ANALYZE")
        rows = connection.execute(catalog_sql.SQLITE_ROW_ESTIMATES).all()
    assert [tuple(r) for r in rows] == [("t", 3)]
    assert compiled(catalog_sql.SQLITE_ROW_ESTIMATES, sqlite.dialect()).startswith("SELECT tbl AS table_name")


def column(name: str, kind: sa.types.TypeEngine, nullable: bool = False, correlation: float | None = None):
    return CatalogColumn(name, kind, nullable, correlation=correlation)


def table(name: str, *columns: CatalogColumn, key: tuple[str, ...] = ("id",), schema: str | None = None,
          rows: int | None = 100) -> CatalogTable:
    return CatalogTable(schema, name, False, (column("id", sa.Integer()), *columns), key, rows)


def test_a_sql_server_rowversion_is_named_in_a_warning_and_a_named_timestamp_is_chosen():
    """rowversion lands as 8 bytes (mssql_types.py), which the loader cannot use as a watermark:
    discover says how to use it (a view casting it to bigint) instead of proposing a row that fails."""
    versioned = table("orders", column("rv", mssql.TIMESTAMP()), column("note", sa.String()))
    watermark, warnings = choose_watermark(versioned, SourceType.MSSQL)
    assert watermark is None and len(warnings) == 1 and "CONVERT(bigint, rv)" in warnings[0]
    both = table("orders", column("rv", mssql.TIMESTAMP()), column("updated_at", sa.DateTime()))
    assert choose_watermark(both, SourceType.MSSQL)[0] == "updated_at"


def test_watermark_candidates_need_not_null_a_telling_name_and_correlation():
    assert choose_watermark(table("t", column("updated_at", sa.DateTime(), nullable=True)), SourceType.POSTGRES) \
        == (None, [])
    assert choose_watermark(table("t", column("created_at", sa.DateTime())), SourceType.POSTGRES) == (None, [])
    assert choose_watermark(table("t", column("LAST_MODIFIED", sa.DateTime())), SourceType.ORACLE)[0] == "LAST_MODIFIED"
    assert choose_watermark(table("t", column("change_seq", sa.BigInteger())), SourceType.POSTGRES)[0] == "change_seq"
    assert choose_watermark(table("t", column("amount", sa.BigInteger())), SourceType.POSTGRES) == (None, [])
    shuffled, warnings = choose_watermark(table("t", column("modified", sa.DateTime(), correlation=0.1)),
                                          SourceType.POSTGRES)
    assert shuffled is None and "correlation 0.10" in warnings[0]


def test_job_names_are_valid_unique_and_unique_as_dlt_normalises_them():
    names = NameBook(["orders", "Sales"])
    assert job_name_for(table("Orders", schema="crm"), names) == "crm_orders"
    assert job_name_for(table("SALES"), names) == "sales_2"  # no schema to put in front: a number
    assert job_name_for(table("OrderLines"), names) == "order_lines"
    assert job_name_for(table("2024_totals"), names) == "t_2024_totals"
    assert job_name_for(table("sales_"), NameBook()) == "salesx"  # as dlt names it: the lake table's name
    long = job_name_for(table("x" * 100), NameBook())
    assert len(long) == 63


def test_propose_refuses_names_the_workbook_cannot_hold_and_fills_the_row():
    catalog = Catalog("oracle", "SALES", "sales", [
        table("ORDERS", column("UPDATED_AT", sa.DateTime()), schema="SALES"),
        table("ORDER LINES", schema="SALES"),
        CatalogTable("SALES", "V_TOTALS", True, (column("TOTAL", sa.Numeric()),), (), None)])
    proposals = propose(catalog, "erp", SourceType.ORACLE, enabled=False, names=NameBook())
    assert [p.values for p in proposals.rows][0] == {
        "job_name": "orders", "enabled": "N", "source_type": "oracle", "connection": "erp", "source_schema": "SALES",
        "source_table": "ORDERS", "target_table": None, "load_type": "INCREMENTAL", "watermark_column": "UPDATED_AT",
        "primary_key": "id"}
    view = proposals.rows[1]
    assert view.values["load_type"] == "FULL" and view.values["primary_key"] is None
    assert any("TOTAL (number) lands as text: the exact decimal" in w for w in view.warnings)
    assert len(proposals.refused) == 1 and "ORDER LINES" in proposals.refused[0]


def test_globs_select_without_case():
    assert selected("SALES_ORDERS", ("sales_*",), ())
    assert not selected("sales_tmp", ("sales_*",), ("*_tmp",))
    assert selected("anything", (), ())


def test_the_source_type_comes_from_the_credentials_and_never_echoes_them():
    assert infer_source_type("c", "postgresql://u:pw@h/db") is SourceType.POSTGRES
    assert infer_source_type("c", "mssql+pyodbc://u:pw@h/db") is SourceType.MSSQL
    assert infer_source_type("c", {"drivername": "oracle+oracledb", "password": "pw"}) is SourceType.ORACLE
    try:
        infer_source_type("c", {"host": "h", "password": "s3cret-pw"})
    except Exception as exc:
        assert "--source-type" in str(exc) and "s3cret" not in str(exc)
    else:
        raise AssertionError("no source type in fields without drivername")


def test_a_missing_schema_lists_likely_names_first_then_the_rest_with_a_count():
    from ingest.sources.discovery.catalog import _schemas_to_show

    names = [f"cdc{i}" for i in range(40)] + ["public", "sales", "pg_catalog"]
    shown = _schemas_to_show(names, "sale", "public")
    assert shown.startswith("sales, public, cdc0, cdc1")
    assert shown.endswith("and 12 more") and "pg_catalog" not in shown

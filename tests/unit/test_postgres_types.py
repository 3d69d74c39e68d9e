"""The PostgreSQL type map (ingest/sources/postgres_types.py): each column's read plan from
its catalog entry, the SQL it selects, and the table of docs/types.md generated from the same rules.
The values themselves are checked against a real server in tests/integration/test_type_matrix.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.core.errors import VALUE_ERROR_MARKER
from ingest.sources.postgres_types import (PgColumn, Read, markdown_table, numeric_precision, plan_column)

REPO = Path(__file__).resolve().parents[2]


def typmod(precision: int, scale: int) -> int:
    return ((precision << 16) | (scale & 0x7FF)) + 4


@pytest.mark.parametrize("precision, scale", [(10, 2), (38, 20), (76, 0), (5, -2), (1000, 999)])
def test_numeric_typmods_decode_as_postgresql_encodes_them(precision, scale):
    assert numeric_precision(typmod(precision, scale)) == (precision, scale)
    assert numeric_precision(-1) is None


@pytest.mark.parametrize("precision, scale, read, lands", [
    (10, 2, Read.NATIVE, "decimal(10,2)"),
    (38, 10, Read.NATIVE, "decimal(38,10)"),
    (39, 10, Read.DECIMAL_TEXT, "decimal(39,10)"),
    (20, 11, Read.DECIMAL_TEXT, "decimal(20,11)"),
    (76, 5, Read.DECIMAL_TEXT, "decimal(76,5)"),
    (77, 5, Read.TEXT, "string"),
    (5, -2, Read.TEXT, "string"),
    (2, 5, Read.TEXT, "string"),
])
def test_numeric_columns_are_read_where_their_digits_fit(precision, scale, read, lands):
    plan = plan_column(PgColumn("n", f"numeric({precision},{scale})", "numeric", typmod(precision, scale)))
    assert (plan.read, plan.lands_as) == (read, lands)


@pytest.mark.parametrize("column, read", [
    (PgColumn("a", "numeric", "numeric"), Read.TEXT),
    (PgColumn("a", "money", "money"), Read.TEXT),
    (PgColumn("a", "interval", "interval"), Read.TEXT),
    (PgColumn("a", "jsonb", "jsonb"), Read.TEXT),
    (PgColumn("a", "mood", "mood", kind="e"), Read.NATIVE),
    (PgColumn("a", "integer[]", "_int4", element="int4"), Read.NATIVE),
    (PgColumn("a", "uuid[]", "_uuid", element="uuid"), Read.TEXT),
    (PgColumn("a", "point", "point"), Read.TEXT),
    (PgColumn("a", "some_new_type", "some_new_type"), Read.TEXT),
    (PgColumn("a", "pair", "pair", kind="c"), Read.TEXT),
    (PgColumn("a", "timestamp with time zone", "timestamptz"), Read.NATIVE),
])
def test_only_types_connectorx_holds_exactly_are_read_natively(column, read):
    assert plan_column(column).read is read


def test_text_columns_select_postgresqls_rendering_and_money_its_amount():
    assert plan_column(PgColumn("j", "jsonb", "jsonb")).select('"j"', "connectorx") == '("j")::text'
    assert plan_column(PgColumn("m", "money", "money")).select('"m"', "connectorx") == '("m")::numeric::text'


def test_guards_name_the_column_and_depend_on_the_row():
    """The guard's cast must not be a constant, or PostgreSQL folds it into an error at plan
    time for every query, whatever the rows hold."""
    sql = plan_column(PgColumn("ts", "timestamp without time zone", "timestamp")).select('"ts"', "connectorx")
    assert "'infinity' THEN '9999-12-31 23:59:59.999999'::timestamp" in sql
    assert f"{VALUE_ERROR_MARKER} column ts (timestamp without time zone)" in sql
    assert "left((\"ts\")::text, 0)" in sql


def test_decimal_via_text_differs_by_backend():
    plan = plan_column(PgColumn("n", "numeric(40,20)", "numeric", typmod(40, 20)))
    assert plan.select('"n"', "connectorx").endswith(")::text")
    assert not plan.select('"n"', "pyarrow").endswith(")::text")  # psycopg2 returns exact Decimals


def test_native_arrays_land_as_text_off_connectorx():
    plan = plan_column(PgColumn("a", "integer[]", "_int4", element="int4"))
    assert not plan.lands_as_text("connectorx") and plan.lands_as_text("pyarrow")
    assert plan.select('"a"', "pyarrow") == '("a")::text'


def test_the_types_page_table_is_generated_from_the_rules():
    from tests.docs_pages import docs_page

    page = docs_page("types")
    start = page.index("<!-- pg-types:start")
    block = page[page.index("\n", start) + 1: page.index("<!-- pg-types:end -->")].strip()
    assert block == markdown_table()

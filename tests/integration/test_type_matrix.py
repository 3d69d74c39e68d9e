"""Every PostgreSQL type lands exactly or in its documented lossless form (docs/types.md, *What each
PostgreSQL type lands as*, generated from ingest/sources/postgres_types.py), or the job fails
naming the column. Real PostgreSQL, real loads through the local runner, with the default
reader (connectorx) and with the pyarrow backend.

Each value is compared with the source's own rendering: PostgreSQL prints the source column
(`col::text`), and PostgreSQL prints the value read back from the lake cast to the column's
declared type (`%s::<type>::text`); a column that lands as text must equal the source's text
itself. Every lake file must read back into Python (no value beyond what a reader converts)."""

from __future__ import annotations

from pathlib import Path

import psycopg2
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ingest.config import read_workbook
from ingest.drivers.local.runner import run_local
from ingest.plan.planner import make_plan, new_run_context
from ingest.sources.postgres_types import LOWER_DATE, LOWER_TS, UPPER_DATE, UPPER_TS
from tests.integration.conftest import sql
from tests.workbooks import job_row, write_workbook

# column -> (declared type, [values as SQL literals for rows 1..3]); row 4 is all NULL
COLUMNS: dict[str, tuple[str, list[str]]] = {
    "c_bool": ("boolean", ["true", "false", "true"]),
    "c_int2": ("smallint", ["-32768", "32767", "0"]),
    "c_int4": ("integer", ["-2147483648", "2147483647", "7"]),
    "c_int8": ("bigint", ["-9223372036854775808", "9223372036854775807", "7"]),
    "c_float4": ("real", ["0.1", "'NaN'", "'-Infinity'"]),
    "c_float8": ("double precision", ["1.123456789012345", "'Infinity'", "-0.0"]),
    "c_numeric": ("numeric", ["1e-20", "123.456789012345678901234567890", "'NaN'"]),
    "c_numeric_huge": ("numeric", ["1e100", "-1e-100", "0"]),
    "c_numeric_10_2": ("numeric(10,2)", ["12345678.91", "-0.01", "5"]),
    "c_numeric_38_20": ("numeric(38,20)", ["123456789012345678.12345678901234567891", "-1e-20", "0"]),
    "c_numeric_50_5": ("numeric(50,5)", ["123456789012345678901234567890123456789012345.12345", "-1", "0"]),
    "c_numeric_80_2": ("numeric(80,2)", ["1e77", "-0.01", "0"]),
    "c_numeric_neg_scale": ("numeric(5,-2)", ["1234500", "-100", "0"]),
    "c_money": ("money", ["'12.34'", "'-92233720368547758.08'", "0"]),
    "c_text": ("text", ["'héllo ✓ 李'", "''", "'a\nb'"]),
    "c_varchar": ("varchar(10)", ["'x'", "' '", "'0123456789'"]),
    "c_char": ("char(5)", ["'ab'", "'abcde'", "' '"]),
    "c_name": ("name", ["'abc'", "'x'", "'y'"]),
    "c_uuid": ("uuid", ["'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'", "'00000000-0000-0000-0000-000000000000'", "gen_random_uuid()"]),
    "c_bytea": ("bytea", ["'\\xdeadbeef'", "''", "'\\x00'"]),
    "c_date": ("date", ["'2024-01-02'", "'infinity'", "'-infinity'"]),
    "c_date_edges": ("date", ["'0001-01-01'", "'9999-12-31'", "'1970-01-01'"]),
    "c_ts": ("timestamp", ["'2024-01-02 03:04:05.123456'", "'infinity'", "'-infinity'"]),
    "c_ts0": ("timestamp(0)", ["'2024-01-02 03:04:05'", "'1900-01-01'", "'9999-12-31 23:59:59'"]),
    "c_tstz": ("timestamptz", ["'2024-01-02 03:04:05.123456+02'", "'infinity'", "'-infinity'"]),
    "c_time": ("time", ["'13:14:15.123456'", "'00:00:00'", "'23:59:59.999999'"]),
    "c_timetz": ("timetz", ["'13:14:15+02'", "'00:00:00-11:30'", "'23:59:59.999999+14'"]),
    "c_interval": ("interval", ["'1 year 2 mons 3 days 04:05:06.789'", "'-1 mons'", "'0'"]),
    "c_inet": ("inet", ["'192.168.1.5/24'", "'10.0.0.1'", "'2001:db8::1/64'"]),
    "c_cidr": ("cidr", ["'10.0.0.0/8'", "'2001:db8::/32'", "'192.168.0.0/16'"]),
    "c_macaddr": ("macaddr", ["'08:00:2b:01:02:03'", "'ff:ff:ff:ff:ff:ff'", "'00:00:00:00:00:00'"]),
    "c_macaddr8": ("macaddr8", ["'08:00:2b:01:02:03:04:05'", "'00:00:00:00:00:00:00:00'", "'08:00:2b:01:02:03'"]),
    "c_point": ("point", ["'(1.5,2)'", "'(-0,1e300)'", "'(0,0)'"]),
    "c_line": ("line", ["'{1,2,3}'", "'{1,-1,0}'", "'{0,1,0}'"]),
    "c_lseg": ("lseg", ["'[(1,2),(3,4)]'", "'[(0,0),(0,0)]'", "'[(1,1),(2,2)]'"]),
    "c_box": ("box", ["'(1,2),(3,4)'", "'(0,0),(0,0)'", "'(5,5),(-5,-5)'"]),
    "c_path": ("path", ["'[(1,2),(3,4)]'", "'((0,0),(1,1),(2,0))'", "'[(0,0)]'"]),
    "c_polygon": ("polygon", ["'((1,2),(3,4),(5,6))'", "'((0,0))'", "'((0,0),(1,0),(1,1))'"]),
    "c_circle": ("circle", ["'<(1,2),3>'", "'<(0,0),0>'", "'<(-1,-1),0.5>'"]),
    "c_bit": ("bit(3)", ["B'101'", "B'000'", "B'111'"]),
    "c_varbit": ("bit varying", ["B'10110'", "B''", "B'1'"]),
    "c_tsvector": ("tsvector", ["'a fat cat'", "''", "'x:1A y:2'"]),
    "c_tsquery": ("tsquery", ["'fat & cat'", "'!x'", "'a <-> b'"]),
    "c_int4range": ("int4range", ["'[1,5)'", "'empty'", "'(,)'"]),
    "c_numrange": ("numrange", ["'[1.5,2.5]'", "'(,0.000000000000001)'", "'empty'"]),
    "c_tstzrange": ("tstzrange", ["'[2024-01-01,2024-02-01)'", "'[,infinity)'", "'empty'"]),
    "c_daterange": ("daterange", ["'[2024-01-01,2024-02-01)'", "'empty'", "'[2024-01-01,)'"]),
    "c_int4multirange": ("int4multirange", ["'{[1,3),[5,7)}'", "'{}'", "'{(,)}'"]),
    "c_xml": ("xml", ["'<a>1</a>'", "'<b x=\"1\"/>'", "'text'"]),
    "c_json": ("json", ["'{\"a\": 1.50,  \"a\": 2}'", "'null'", "'[]'"]),
    "c_jsonb": ("jsonb", ["'{\"a\": 1.50}'", "'null'", "'{\"b\": [1, \"x\", null]}'"]),
    "c_int_arr": ("integer[]", ["'{1,2,NULL}'", "'{}'", "'{-1}'"]),
    "c_text_arr": ("text[]", ["'{a,\"b c\",NULL}'", "'{\"\"}'", "'{}'"]),
    "c_bool_arr": ("boolean[]", ["'{t,f,NULL}'", "'{}'", "'{t}'"]),
    "c_float8_arr": ("double precision[]", ["'{1.5,NaN,-Infinity}'", "'{}'", "'{0}'"]),
    "c_num_arr": ("numeric[]", ["'{1.5,2.25,NaN}'", "'{}'", "'{1e-30}'"]),
    "c_uuid_arr": ("uuid[]", ["'{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}'", "'{}'", "'{NULL}'"]),
    "c_date_arr": ("date[]", ["'{2024-01-01,infinity}'", "'{}'", "'{NULL}'"]),
    "c_int_arr_2d": ("integer[]", ["'{1}'", "'{}'", "'{2,3}'"]),
    "c_enum": ("mood", ["'happy'", "'sad'", "'happy'"]),
    "c_domain": ("posint", ["5", "2147483647", "1"]),
    "c_domain_numeric": ("price", ["1.23456789012345", "0", "-1"]),
    "c_oid": ("oid", ["4294967295", "0", "1"]),
    "c_regclass": ("regclass", ["'pg_class'", "'pg_type'", "'pg_attribute'"]),
    "c_pg_lsn": ("pg_lsn", ["'16/B374D848'", "'0/0'", "'FFFFFFFF/FFFFFFFF'"]),
    "c_char1": ('"char"', ["'x'", "'y'", "'z'"]),
    "c_composite": ("pair", ["ROW(1, 'a')", "ROW(NULL, NULL)", "ROW(-1, 'b c')"]),
}

INFINITY_FORMS = {
    "date": {"infinity": UPPER_DATE, "-infinity": LOWER_DATE},
    "timestamp without time zone": {"infinity": UPPER_TS, "-infinity": LOWER_TS},
    "timestamp(0) without time zone": {"infinity": UPPER_TS, "-infinity": LOWER_TS},
    "timestamp with time zone": {"infinity": UPPER_TS + "+00", "-infinity": LOWER_TS + "+00"},
}


def create_every_type(postgres, schema: str) -> None:
    custom = {"mood": f"{schema}.mood", "posint": f"{schema}.posint", "price": f"{schema}.price",
              "pair": f"{schema}.pair"}
    sql(postgres, f"""
        CREATE TYPE {schema}.mood AS ENUM ('happy', 'sad');
        CREATE DOMAIN {schema}.posint AS integer CHECK (VALUE > 0);
        CREATE DOMAIN {schema}.price AS numeric(20,14);
        CREATE TYPE {schema}.pair AS (n integer, t text);
        SET TIME ZONE 'UTC';
        CREATE TABLE {schema}.every_type (id integer PRIMARY KEY, {", ".join(
            f"{name} {custom.get(kind, kind)}" for name, (kind, _) in COLUMNS.items())});
    """.replace("%", "%%"))
    for row in range(3):
        values = ", ".join(literals[row] for _, literals in COLUMNS.values())
        sql(postgres, f"INSERT INTO {schema}.every_type VALUES ({row + 1}, {values})".replace("%", "%%"))
    sql(postgres, f"INSERT INTO {schema}.every_type (id) VALUES (4)")


def run(book: Path, settings):
    config = read_workbook(book)
    assert config.errors == [], config.errors
    return run_local(make_plan(config, new_run_context()), settings, book)


def lake_rows(settings, table: str) -> list[dict]:
    files = sorted(Path(settings.destination, settings.dataset, table).rglob("*.parquet"))
    assert files, f"no parquet files for {table}"
    lake = pa.concat_tables([pq.read_table(f) for f in files])
    return lake, sorted(lake.to_pylist(), key=lambda r: r["id"])  # to_pylist: every value readable


def source_texts(cur, schema: str) -> tuple[dict[str, str], dict[int, dict[str, str | None]]]:
    cur.execute("SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a"
                " WHERE a.attrelid = %s::regclass AND a.attnum > 0", (f"{schema}.every_type",))
    declared = dict(cur.fetchall())
    texts = ", ".join(_source_text(name, kind) for name, (kind, _) in COLUMNS.items())
    cur.execute(f"SELECT id, {texts} FROM {schema}.every_type")
    rows = {row[0]: dict(zip(COLUMNS, row[1:])) for row in cur.fetchall()}
    return declared, rows


def _source_text(name: str, kind: str) -> str:
    """PostgreSQL's rendering of a source column: its output function (what `::text` gives,
    except char(n), whose cast to text drops the padding its output keeps, and inet, whose cast
adds a /32 its output leaves out), money as numeric."""
    if kind == "money":
        return f"({name})::numeric::text"
    return name if kind.startswith("char(") or kind == "inet" else f"({name})::text"


def rendered(cur, value, declared: str) -> str | None:
    """PostgreSQL's own text of a lake value, cast to the column's declared type."""
    if value is None:
        return None
    if isinstance(value, (bytes, bytearray)):
        value = psycopg2.Binary(bytes(value))
    cur.execute(f"SELECT (%s)::{declared}::text", (value,))
    return cur.fetchone()[0]


def mismatches(postgres, schema: str, lake: list[dict]) -> list[str]:
    con = psycopg2.connect(postgres.url())
    con.autocommit = True
    cur = con.cursor()
    cur.execute("SET TIME ZONE 'UTC'")
    cur.execute(f"SET search_path TO {schema}, public")
    declared, source = source_texts(cur, schema)
    found = []
    for row in lake:
        for name in COLUMNS:
            expected = source[row["id"]][name]
            expected = INFINITY_FORMS.get(declared[name], {}).get(expected, expected)
            value = row[name]
            actual = value if isinstance(value, str) else rendered(cur, value, declared[name])
            if actual != expected:
                found.append(f"row {row['id']} {name} ({declared[name]}): lake {value!r} -> {actual!r},"
                             f" source {expected!r}")
    con.close()
    return found


@pytest.mark.parametrize("backend", [None, "pyarrow"], ids=["default-connectorx", "pyarrow"])
def test_every_type_lands_exactly_or_in_its_documented_text_form(postgres, pg_schema, settings, tmp_path, backend):
    settings = settings.with_overrides(sql_backend=backend)
    create_every_type(postgres, pg_schema)
    book = write_workbook(tmp_path / "w.xlsx", [job_row(job_name="every_type", source_schema=pg_schema,
                                                        source_table="every_type")])
    summary = run(book, settings)
    job = summary.jobs[0]
    assert job["status"] == "succeeded", (job["error_class"], job["error_message"])
    assert job["rows_processed"] == 4
    assert job["values"]["status"] == "ok", job["values"]  # every column's count and range agree with the source
    table, rows = lake_rows(settings, "every_type")
    assert len(COLUMNS) >= 60
    assert mismatches(postgres, pg_schema, rows) == []
    types = table.schema
    assert types.field("c_numeric_10_2").type == pa.decimal128(10, 2)
    assert types.field("c_numeric_38_20").type == pa.decimal128(38, 20)
    assert types.field("c_numeric_50_5").type == pa.decimal256(50, 5)
    assert types.field("c_domain_numeric").type == pa.decimal128(20, 14)
    for text_column in ("c_numeric", "c_money", "c_json", "c_jsonb", "c_interval", "c_bit", "c_xml", "c_composite"):
        assert pa.types.is_string(types.field(text_column).type) or pa.types.is_large_string(
            types.field(text_column).type), text_column
    assert pa.types.is_timestamp(types.field("c_tstz").type) and types.field("c_tstz").type.tz is not None
    assert rows[0]["c_json"] == '{"a": 1.50,  "a": 2}'  # json kept as written, duplicate key included
    assert rows[0]["c_jsonb"] == '{"a": 1.50}' and rows[1]["c_jsonb"] == "null" and rows[3]["c_jsonb"] is None
    assert rows[0]["c_numeric"] == "0.00000000000000000001" and rows[2]["c_numeric"] == "NaN"


FAILING: dict[str, tuple[str, str]] = {
    "ts_beyond_9999": ("timestamp", "'10000-01-01 00:00:00'"),
    "date_bc": ("date", "'0044-03-15 BC'"),
    "tstz_beyond_9999": ("timestamptz", "'12000-06-01 00:00:00+00'"),
    "nan_in_numeric_10_2": ("numeric(10,2)", "'NaN'"),
    "nan_in_numeric_40_20": ("numeric(40,20)", "'NaN'"),
    "time_24": ("time", "'24:00:00'"),
    "array_2d": ("integer[]", "'{{1,2},{3,4}}'"),
    "array_lower_bound": ("integer[]", "'[0:1]={5,6}'"),
}


@pytest.mark.parametrize("backend", [None, "pyarrow"], ids=["default-connectorx", "pyarrow"])
def test_a_value_without_an_exact_form_fails_its_job_naming_the_column(postgres, pg_schema, settings, tmp_path,
                                                                        backend):
    settings = settings.with_overrides(sql_backend=backend)
    rows = []
    for table, (kind, literal) in FAILING.items():
        sql(postgres, f"CREATE TABLE {pg_schema}.{table} (id integer PRIMARY KEY, v_{table} {kind});"
                      f" INSERT INTO {pg_schema}.{table} VALUES (1, NULL), (2, {literal})")
        rows.append(job_row(job_name=table, source_schema=pg_schema, source_table=table))
    sql(postgres, f"CREATE TABLE {pg_schema}.fine (id integer PRIMARY KEY, v timestamp);"
                  f" INSERT INTO {pg_schema}.fine VALUES (1, 'infinity')")
    rows.append(job_row(job_name="fine", source_schema=pg_schema, source_table="fine"))
    summary = run(write_workbook(tmp_path / "w.xlsx", rows), settings)
    by_name = {job["job_name"]: job for job in summary.jobs}
    assert by_name["fine"]["status"] == "succeeded", by_name["fine"]["error_message"]
    lands_as_text = {"array_2d": "{{1,2},{3,4}}", "array_lower_bound": "[0:1]={5,6}"} if backend else {}
    for table, text in lands_as_text.items():  # the pyarrow backend reads arrays as text: nothing to lose
        assert by_name[table]["status"] == "succeeded", by_name[table]["error_message"]
        _, rows = lake_rows(settings, table)
        assert rows[1][f"v_{table}"] == text
    for table in set(FAILING) - set(lands_as_text):
        job = by_name[table]
        assert job["status"] == "failed", table
        assert job["error_class"] == "SourceValueError", (table, job["error_class"], job["error_message"])
        assert f"v_{table}" in job["error_message"], (table, job["error_message"])
    assert not Path(settings.destination, settings.dataset, "ts_beyond_9999").exists() or not list(
        Path(settings.destination, settings.dataset, "ts_beyond_9999").rglob("*.parquet"))



def test_the_value_check_catches_a_planted_truncation(postgres, pg_schema, settings, tmp_path, monkeypatch):
    """Planted: numeric(38,20) read natively, as if connectorx's decimal(38,10) could hold it
    (the plan's threshold raised by the test), so digits are cut while the cast stays 'safe'.
    The row count agrees; the value check names the column and fails the job."""
    from ingest.sources import postgres_types

    monkeypatch.setattr(postgres_types, "CX_DECIMAL_SCALE", 20)
    sql(postgres, f"CREATE TABLE {pg_schema}.cut (id integer PRIMARY KEY, amount numeric(38,20), note text);"
                  f" INSERT INTO {pg_schema}.cut VALUES (1, 1.12345678901234567891, 'a'), (2, 2.5, NULL)")
    book = write_workbook(tmp_path / "w.xlsx", [job_row(job_name="cut", source_schema=pg_schema, source_table="cut")])
    job = run(book, settings).jobs[0]
    assert job["error_class"] == "ValueCheckError", (job["error_class"], job["error_message"])
    assert "column amount: min is 1.12345678901234567891 in the source, 1.12345678900000000000 in the lake" \
        in job["error_message"]
    assert job["rowcount"]["status"] == "ok" and job["values"]["status"] == "mismatch"

    monkeypatch.setattr(postgres_types, "CX_DECIMAL_SCALE", 10)  # the real plan: exact, and the check agrees
    job = run(book, settings).jobs[0]
    assert job["status"] == "succeeded", job["error_message"]
    assert job["values"]["status"] == "ok" and job["values"]["columns_checked"] == 3, job["values"]


def test_the_value_check_runs_on_incremental_windows(postgres, pg_schema, settings, tmp_path):
    """Each increment is checked over its own window: (before, after] or [before, after],
    whichever holds exactly the rows the load kept."""
    from tests.integration.conftest import create_orders

    create_orders(postgres, pg_schema, 50)
    book = write_workbook(tmp_path / "w.xlsx", [job_row(source_schema=pg_schema, load_type="INCREMENTAL",
                                                        watermark_column="updated_at")])
    first = run(book, settings).jobs[0]
    assert first["values"]["status"] == "ok" and first["values"]["columns_checked"] == 7, first["values"]
    sql(postgres, f"INSERT INTO {pg_schema}.orders SELECT id + 100, qty, amount * 3, name, note, created_at,"
                  f" updated_at + interval '1 day' FROM {pg_schema}.orders WHERE id <= 5")
    second = run(book, settings).jobs[0]
    assert second["rows_processed"] == 5
    assert second["values"]["status"] == "ok", second["values"]


def test_a_hostile_column_name_cannot_break_out_of_the_guards_sql(postgres, pg_schema, settings, tmp_path):
    """Column names come from the source's catalog and go into the SELECT's guards twice: as a
    quoted identifier and inside the error message's string literal. A name holding quotes,
    a semicolon and SQL stays a name: the load reads its values, and a value the guard stops
    names the column as the catalog spells it, nothing runs."""
    name = 'it\'s "odd"; DROP TABLE x; --'
    quoted = '"' + name.replace('"', '""') + '"'
    sql(postgres, f"CREATE TABLE {pg_schema}.odd (id integer PRIMARY KEY, {quoted} timestamp);"
                  f" INSERT INTO {pg_schema}.odd VALUES (1, 'infinity'), (2, '2024-01-02 03:04:05')")
    book = write_workbook(tmp_path / "w.xlsx", [job_row(job_name="odd", source_schema=pg_schema, source_table="odd")])
    job = run(book, settings).jobs[0]
    assert job["status"] == "succeeded", job["error_message"]
    _, rows = lake_rows(settings, "odd")
    assert len(rows) == 2 and job["values"]["status"] == "ok", job["values"]
    sql(postgres, f"INSERT INTO {pg_schema}.odd VALUES (3, '10000-01-01')")
    failed = run(book, settings).jobs[0]
    assert failed["error_class"] == "SourceValueError" and name in failed["error_message"], failed["error_message"]

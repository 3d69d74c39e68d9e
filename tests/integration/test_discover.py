"""discover against a real PostgreSQL of 30+ tables of varied shape (tests/discovery_source.py)
and the SQLite demo: what it proposes, how it merges into an empty and a hand-edited workbook,
that re-running changes nothing, and that the proposed rows validate and load."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
from openpyxl.comments import Comment
from openpyxl.styles import Font, PatternFill

from ingest.config import read_workbook
from ingest.config.template import write_template
from ingest.drivers.local.runner import run_local
from ingest.plan.planner import make_plan, new_run_context
from ingest.sources.discovery.discover import DiscoverRequest, discover, format_report
from tests.discovery_source import FILLER_TABLES, create_source, drop_source
from tests.integration.test_cli import REPO, ingest


@pytest.fixture(scope="module")
def source(postgres):
    a, b = create_source(postgres.url())
    yield a, b
    drop_source(postgres.url(), a, b)


@pytest.fixture
def pg_env(postgres, monkeypatch):
    monkeypatch.setenv("SOURCES__PG__CREDENTIALS", postgres.url())


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def rows_of(path: Path) -> dict[str, dict]:
    sheet = openpyxl.load_workbook(path)["jobs"]
    header = [c.value for c in sheet[1]]
    return {r[0]: dict(zip(header, r)) for r in sheet.iter_rows(min_row=2, values_only=True) if r[0]}


def test_discover_into_an_empty_workbook_proposes_each_shape(source, pg_env, tmp_path):
    a, b = source
    book = tmp_path / "new" / "ingestion_config.xlsx"  # no file yet: the template is written first
    report = discover(DiscoverRequest("pg", book, schemas=(a, b)))
    assert report.outcome.written and report.served_by == "env (SOURCES__PG__CREDENTIALS)"
    rows = rows_of(book)
    assert len(rows) == len(report.proposals) == 13 + FILLER_TABLES + 3 >= 30
    assert {r["enabled"] for r in rows.values()} == {"N"}
    orders = rows["orders"]
    assert (orders["source_schema"], orders["source_table"], orders["load_type"], orders["watermark_column"],
            orders["primary_key"]) == (a, "orders", "INCREMENTAL", "updated_at", "id")
    assert rows["customers"]["watermark_column"] == "modified_at"
    assert (rows["ledger"]["load_type"], rows["ledger"]["watermark_column"]) == ("INCREMENTAL", "change_seq")
    assert rows["order_lines"]["primary_key"] == "order_id, line_no" and rows["order_lines"]["load_type"] == "FULL"
    assert rows["measurements"]["primary_key"] == "id, taken_at" and "measurements_2024" not in rows
    assert rows["nullable_update"]["load_type"] == "FULL"  # updated_at may be NULL: no watermark
    assert rows["shuffled"]["load_type"] == "FULL"  # updated_at does not follow the inserts
    assert rows["event_log"]["primary_key"] is None
    assert rows["recent_orders"]["load_type"] == "FULL" and rows["order_totals"]["source_table"] == "order_totals"
    camel = rows["camel_case"]
    assert (camel["source_table"], camel["target_table"], camel["watermark_column"]) == (
        "CamelCase", "camel_case", "LastModified")
    assert rows["salesx"]["source_table"] == "sales_" and rows["salesx"]["target_table"] == "salesx"
    second = rows[f"{b}_orders"]  # orders is taken by schema a's table
    assert (second["source_schema"], second["watermark_column"], second["primary_key"]) == (
        b, "last_changed", "order_id")
    assert sorted(r.split(":")[0] for r in report.refused) == [f"{a}.Order Details", f"{b}.Weird-Name"]
    by_name = {p.job_name: p for p in report.proposals}
    odd = "\n".join(by_name["odd_types"].warnings)
    for expected in ("doc (json) lands as text", "tags (text[]) lands as list<text>", "span (interval) lands as text",
                     "blob (bytea) lands as binary", "amount (numeric) lands as text (numeric without a precision",
                     "is an enum: lands as its label", "pt (point) lands as text",
                     "is a domain: lands as its base type (decimal(10,2))"):
        assert expected in odd
    assert "does not follow the order rows are written in" in "\n".join(by_name["shuffled"].warnings)
    # the warnings ride along as a comment on the job_name cell
    sheet = openpyxl.load_workbook(book)["jobs"]
    commented = {sheet.cell(row=r, column=1).value: sheet.cell(row=r, column=1).comment for r in range(2, 40)}
    assert "bytea" in commented["odd_types"].text and commented["orders"] is None

    config = read_workbook(book)
    assert config.errors == [] and len(config.jobs) == len(rows)
    assert "descriptions" in openpyxl.load_workbook(book).sheetnames
    assert len(sheet.data_validations.dataValidation) > 10  # the template's dropdowns and prompts

    before = digest(book)
    again = discover(DiscoverRequest("pg", book, schemas=(a, b)))
    assert again.proposals == [] and len(again.present) == len(rows) and digest(book) == before
    assert not again.outcome.written


def test_discover_keeps_hand_rows_and_their_formats(source, pg_env, tmp_path):
    a, _ = source
    book = write_template(tmp_path / "w.xlsx")
    workbook = openpyxl.load_workbook(book)
    sheet = workbook["jobs"]
    header = [c.value for c in sheet[1]]
    hand = [{"job_name": "orders", "enabled": "Y", "source_type": "postgres", "connection": "pg",
             "source_schema": a.upper(), "source_table": "ORDERS", "load_type": "FULL", "primary_key": "id",
             "rowcount_tolerance_pct": 2.5},
            {"job_name": "cust_hand", "enabled": "Y", "source_type": "postgres", "connection": "pg",
             "source_schema": a, "source_table": "customers", "target_table": "ledger", "load_type": "FULL"}]
    for number, values in enumerate(hand, start=2):
        for name, value in values.items():
            sheet.cell(row=number, column=header.index(name) + 1, value=value)
    sheet["A2"].fill = PatternFill("solid", fgColor="FFFF00")
    sheet["A2"].font = Font(bold=True, color="FF0000")
    sheet["L2"].number_format = "0.00"
    sheet["A3"].comment = Comment("kept by hand", "me")
    validations = len(sheet.data_validations.dataValidation)
    workbook.save(book)
    before = openpyxl.load_workbook(book)
    digest_before = digest(book)

    dry = discover(DiscoverRequest("pg", book, schemas=(a,), include=("orders", "customers", "ledger", "order_*"),
                                   dry_run=True))
    # `ledger` is the hand row's lake table: the schema goes in front
    assert [p.job_name for p in dry.proposals] == [f"{a}_ledger", "order_lines", "order_totals"]
    assert not dry.outcome.written and len(dry.present) == 2 and digest(book) == digest_before
    assert any("would add 3 row(s)" in line for line in format_report(dry))
    report = discover(DiscoverRequest("pg", book, schemas=(a,), include=("orders", "customers", "ledger", "order_*")))
    assert [p.job_name for p in report.proposals] == [p.job_name for p in dry.proposals]
    assert sorted(report.present) == [f"{a}.customers: already in jobs row 3", f"{a}.orders: already in jobs row 2"]

    after = openpyxl.load_workbook(book)
    old, new = before["jobs"], after["jobs"]
    for row in (1, 2, 3):
        assert [c.value for c in new[row]][: len(header)] == [c.value for c in old[row]][: len(header)]
    assert new["A2"].fill.fgColor.rgb == "00FFFF00" and new["A2"].font.bold and new["A2"].font.color.rgb == "00FF0000"
    assert new["L2"].number_format == "0.00" and new["A3"].comment.text == "kept by hand"
    assert len(new.data_validations.dataValidation) == validations
    assert [[c.value for c in r] for r in after["descriptions"].iter_rows()] == \
        [[c.value for c in r] for r in before["descriptions"].iter_rows()]
    assert new["A4"].value == report.proposals[0].job_name and not new["A4"].font.bold  # no format copied
    ledger = rows_of(book)[report.proposals[0].job_name]
    assert ledger["target_table"] == report.proposals[0].job_name  # the lake table `ledger` is the hand row's
    assert read_workbook(book).errors == []


def test_proposed_rows_validate_and_load(source, pg_env, tmp_path, settings):
    a, _ = source
    book = tmp_path / "w.xlsx"
    report = discover(DiscoverRequest("pg", book, schemas=(a.upper(),), enable=True, include=(
        "orders", "order_lines", "ledger", "odd_types", "CamelCase", "recent_orders", "sales_", "event_log")))
    assert len(report.proposals) == 8 and report.issues == []
    config = read_workbook(book)
    assert config.errors == [] and all(job.enabled for job in config.jobs)
    summary = run_local(make_plan(config, new_run_context()), settings, book)
    by_name = {j["job_name"]: j for j in summary.jobs}
    assert summary.exit_code == 0, by_name
    assert {n: j["rows_processed"] for n, j in by_name.items()} == {
        "orders": 300, "order_lines": 200, "ledger": 150, "odd_types": 1, "camel_case": 40, "recent_orders": 200,
        "salesx": 2, "event_log": 50}
    assert (Path(settings.destination) / settings.dataset / "camel_case").is_dir()


def test_sqlite_demo_discover(tmp_path):
    demo = subprocess.run([sys.executable, "-m", "examples.make_demo", "--out", str(tmp_path / "demo")],
                          cwd=REPO, capture_output=True, text=True)
    assert demo.returncode == 0, demo.stderr
    env = {"SOURCES__DEMO__CREDENTIALS": f"sqlite:///{tmp_path / 'demo' / 'demo.db'}"}
    demo_book = tmp_path / "demo" / "ingestion_config.xlsx"
    before = digest(demo_book)
    same = ingest(["discover", "--connection", "demo", "--config", str(demo_book)], cwd=tmp_path, env=env)
    assert same.returncode == 0, same.stdout + same.stderr
    assert "nothing new; 3 table(s) already in the workbook" in same.stdout and "3 table(s) already in the workbook" in same.stdout
    assert digest(demo_book) == before

    fresh = tmp_path / "fresh.xlsx"
    result = ingest(["discover", "--connection", "demo", "--config", str(fresh)], cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "credentials from env (SOURCES__DEMO__CREDENTIALS)" in result.stdout
    rows = rows_of(fresh)
    assert (rows["orders"]["load_type"], rows["orders"]["watermark_column"], rows["orders"]["primary_key"]) == (
        "INCREMENTAL", "updated_at", "order_id")
    assert rows["customers"]["load_type"] == "FULL" and rows["products"]["primary_key"] == "product_id"
    assert rows["orders"]["source_type"] == "sqlite" and rows["orders"]["source_schema"] is None
    valid = ingest(["validate", "--config", str(fresh)], cwd=tmp_path, env=env)
    assert valid.returncode == 0 and "3 valid job(s), 0 error(s)" in valid.stdout


def test_discover_with_a_wrong_password_says_so_without_it(postgres, tmp_path):
    env = {"SOURCES__PG__CREDENTIALS": postgres.url(password="not-the-pw-4711")}
    result = ingest(["discover", "--connection", "pg", "--config", str(tmp_path / "w.xlsx")], cwd=tmp_path, env=env)
    assert result.returncode == 1
    assert "password authentication failed" in result.stderr and "not-the-pw-4711" not in result.stderr + result.stdout
    assert not (tmp_path / "w.xlsx").exists()
    env["SOURCES__PG__CREDENTIALS"] = postgres.url()
    no_schema = ingest(["discover", "--connection", "pg", "--schema", "nope_schema", "--config", str(tmp_path / "w.xlsx")],
                       cwd=tmp_path, env=env)
    assert no_schema.returncode == 1 and "schema 'nope_schema' does not exist (schemas: " in no_schema.stderr
    assert "public" in no_schema.stderr and not (tmp_path / "w.xlsx").exists()
    help_text = ingest(["discover", "--help"], cwd=tmp_path).stdout
    assert "--api" in help_text and "out of scope" in help_text


def test_a_proposed_row_that_does_not_validate_writes_nothing(tmp_path, monkeypatch):
    """Defence in depth: proposals are built to validate, but if one did not (a rule discover
    does not know yet), the workbook is left as it was and the report says why. The bad row is
    made by wrapping the real proposer (SQLite demo source, no mock of the database)."""
    from ingest.sources.discovery import discover as discover_module

    demo = subprocess.run([sys.executable, "-m", "examples.make_demo", "--out", str(tmp_path / "demo")],
                          cwd=REPO, capture_output=True, text=True)
    assert demo.returncode == 0, demo.stderr
    monkeypatch.setenv("SOURCES__DEMO__CREDENTIALS", f"sqlite:///{tmp_path / 'demo' / 'demo.db'}")
    real = discover_module.propose

    def one_bad(*args, **kwargs):
        proposals = real(*args, **kwargs)
        proposals.rows[0].values["load_type"] = "INCREMENTL"
        return proposals

    monkeypatch.setattr(discover_module, "propose", one_bad)
    book = tmp_path / "book.xlsx"
    write_template(book)
    before = digest(book)
    report = discover(DiscoverRequest(connection="demo", config=book))
    assert report.issues and not report.outcome.written and digest(book) == before
    text = "\n".join(format_report(report))
    assert "ERROR in a new row" in text and "nothing written: a proposed row does not validate" in text


def test_hostile_column_names_reach_neither_the_terminal_nor_the_workbook_raw(postgres, tmp_path):
    """A source column named with a control character and with terminal escape sequences (a
    screen clear and a fake OK): discover writes a workbook that still opens, and check, which
    lists the table's columns when a key is wrong, prints the names escaped (issue 33, item 2)."""
    import psycopg2

    from tests.workbooks import job_row, write_workbook

    schema = "hostile_names"
    with psycopg2.connect(postgres.url()) as conn, conn.cursor() as cur:
        cur.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")
        cur.execute(f'CREATE TABLE {schema}.t ("ctl\x01\x02" int PRIMARY KEY, id int,'
                    f' "x\x1b[2J\x1b[HOK all checks passed" text)')
    env = {"SOURCES__PG__CREDENTIALS": postgres.url()}
    book = tmp_path / "w.xlsx"
    found = ingest(["discover", "--connection", "pg", "--schema", schema, "--config", str(book)],
                   cwd=tmp_path, env=env)
    assert found.returncode == 0, found.stderr
    comments = [c.comment.text for r in openpyxl.load_workbook(book)["jobs"].iter_rows() for c in r if c.comment]
    assert any("ctl\\x01\\x02" in text for text in comments), comments
    wrong_key = write_workbook(tmp_path / "k.xlsx", [job_row(job_name="t", connection="pg", source_schema=schema,
                                                              source_table="t", primary_key="nope")])
    checked = ingest(["check", "--config", str(wrong_key)], cwd=tmp_path, env=env)
    assert checked.returncode == 1 and "has no column nope" in checked.stdout
    assert "x\\x1b[2J\\x1b[HOK all checks passed" in checked.stdout
    for result in (found, checked):
        assert "\x1b" not in result.stdout + result.stderr and "\x01" not in result.stdout + result.stderr

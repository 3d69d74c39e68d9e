"""Workbook reading and validation: every kind of bad cell is named by sheet!cell."""

from __future__ import annotations

import datetime as dt

import openpyxl
import pytest
from openpyxl.utils import get_column_letter

from ingest.config import LoadType, SourceType, read_workbook
from ingest.config.api_sheet import API_COLUMNS
from ingest.config.template import write_template
from ingest.core.errors import WorkbookError
from tests.workbooks import HEADER, job_row, write_workbook


def errors_of(config) -> list[str]:
    return [str(i) for i in config.errors]


def test_valid_row_becomes_a_typed_job(tmp_path):
    path = write_workbook(tmp_path / "w.xlsx", [job_row(load_type="incremental", watermark_column="updated_at",
                                                        primary_key="id, region", last_watermark=dt.datetime(2024, 1, 2, 3, 4, 5))])
    config = read_workbook(path)
    assert config.errors == []
    job = config.jobs[0]
    assert job.source_type is SourceType.POSTGRES and job.load_type is LoadType.INCREMENTAL
    assert job.primary_key == ("id", "region")
    assert job.last_watermark == "2024-01-02T03:04:05"
    assert job.table_name == "orders" and job.row == 2


@pytest.mark.parametrize("column, value, expected", [
    ("load_type", "INCREMENTL", "jobs!H2: load_type 'INCREMENTL' is not one of FULL, INCREMENTAL, CDC"),
    ("enabled", "maybe", "jobs!B2: enabled 'maybe' is not Y or N"),
    ("source_type", "mysql", "jobs!C2: source_type 'mysql' is not one of postgres, sqlite, oracle, mssql,"
                             " azure_sql, rest_api"),
    ("job_name", "Orders-1", "jobs!A2: job_name 'Orders-1' must be"),
    ("source_table", "orders; DROP TABLE x", "jobs!F2: source_table 'orders; DROP TABLE x' is not a plain identifier"),
    ("source_schema", 'public"--', "jobs!E2: source_schema 'public\"--' is not a plain identifier"),
    ("watermark_column", "updated_at)", "jobs!I2: watermark_column 'updated_at)' is not a plain identifier"),
    ("primary_key", "id,,x", "jobs!J2: primary_key 'id,,x' has an empty column name"),
    ("primary_key", "id, id", "jobs!J2: primary_key 'id, id' names a column twice"),
    ("target_table", "Orders", "jobs!G2: target_table 'Orders' must be"),
    ("connection", "Sales DB", "jobs!D2: connection 'Sales DB' must be"),
    ("last_watermark", "yesterday", "jobs!K2: last_watermark 'yesterday' is not a number or an ISO date"),
    ("source_table", None, "jobs!F2: source_table is required for source_type postgres"),
    ("connection", None, "jobs!D2: connection is required for source_type postgres"),
    ("enabled", True, None),  # a boolean cell is a fine enabled value
])
def test_bad_cell_is_named_by_place(tmp_path, column, value, expected):
    config = read_workbook(write_workbook(tmp_path / "w.xlsx", [job_row(**{column: value})]))
    if expected is None:
        assert config.errors == [] and len(config.jobs) == 1
    else:
        assert any(e.startswith(expected) for e in errors_of(config)), errors_of(config)
        assert config.jobs == [] and 2 in config.invalid_rows


@pytest.mark.parametrize("source_type, column, value, expected", [
    ("oracle", "source_table", "_orders", "jobs!F2: source_table '_orders' is not a valid oracle identifier"
                                          " (starting with a letter"),
    ("oracle", "primary_key", "ID, _ROWKEY", "jobs!J2: primary_key '_ROWKEY' is not a valid oracle identifier"),
    ("postgres", "source_table", "emp#hist", "jobs!F2: source_table 'emp#hist' is not a valid postgres"
                                             " identifier (letters, digits, _ or $, at most 63 characters)"),
    ("postgres", "watermark_column", "u" * 64, "jobs!I2: watermark_column 'uuuu"),
    ("oracle", "source_table", "EMP#HIST_" + "X" * 100, None),  # Oracle: 128 characters and #
    ("mssql", "source_table", "Emp#Hist", None),
    ("azure_sql", "source_schema", "_staging", None),
    ("oracle", "source_table", "x" * 129, "jobs!F2: source_table 'xxxx"),  # over 128 for everyone
])
def test_identifiers_are_checked_per_source_type(tmp_path, source_type, column, value, expected):
    row = job_row(source_type=source_type, **{column: value})
    if column == "watermark_column":
        row.update(load_type="INCREMENTAL")
    config = read_workbook(write_workbook(tmp_path / "w.xlsx", [row]))
    if expected is None:
        assert config.errors == [] and config.jobs[0].source_type.value == source_type
    else:
        assert [e for e in errors_of(config) if e.startswith(expected)], errors_of(config)
        assert config.jobs == []


def test_every_error_of_a_row_is_reported_at_once(tmp_path):
    config = read_workbook(write_workbook(tmp_path / "w.xlsx", [
        job_row(enabled="x", load_type="SOMETIMES", source_table="a b")]))
    places = sorted(i.place for i in config.errors)
    assert places == ["jobs!B2", "jobs!F2", "jobs!H2"]


def test_incremental_without_watermark_column(tmp_path):
    config = read_workbook(write_workbook(tmp_path / "w.xlsx", [job_row(load_type="INCREMENTAL")]))
    assert errors_of(config) == ["jobs!I2: watermark_column is required when load_type is INCREMENTAL"]


def test_formula_cells_are_rejected(tmp_path):
    path = write_workbook(tmp_path / "w.xlsx", [job_row(source_table='=CONCAT("ord","ers")')])
    config = read_workbook(path)
    assert errors_of(config)[0].startswith("jobs!F2: source_table holds a formula")


def test_duplicate_job_names_run_neither(tmp_path):
    config = read_workbook(write_workbook(tmp_path / "w.xlsx", [
        job_row(), job_row(target_table="orders2"), job_row(job_name="other", source_table="other")]))
    assert "jobs!A3: job_name 'orders' is already used in row 2" in errors_of(config)
    assert [j.job_name for j in config.jobs] == ["other"]


def test_two_jobs_writing_one_lake_table(tmp_path):
    config = read_workbook(write_workbook(tmp_path / "w.xlsx", [
        job_row(job_name="a"), job_row(job_name="b", source_schema="archive")]))
    assert errors_of(config) == ["jobs!F3: lake table 'orders' is already written by job 'a' (row 2)"]
    assert [j.job_name for j in config.jobs] == ["a"]


def test_valid_rows_survive_beside_bad_ones(tmp_path):
    config = read_workbook(write_workbook(tmp_path / "w.xlsx", [
        job_row(job_name="good"), job_row(job_name="bad", load_type="X", source_table="t2"), {},
        job_row(job_name="good2", source_table="t3")]))
    assert [j.job_name for j in config.jobs] == ["good", "good2"]
    assert config.invalid_rows == {3: "bad"}


def test_unknown_column_is_a_warning_and_header_is_case_insensitive(tmp_path):
    header = [h.upper() for h in HEADER] + ["comment"]
    row = {k.upper(): v for k, v in job_row().items()}
    config = read_workbook(write_workbook(tmp_path / "w.xlsx", [row], header=header))
    assert config.errors == [] and len(config.jobs) == 1
    extra = get_column_letter(len(HEADER) + 1)
    assert [str(w) for w in config.warnings] == [f"jobs!{extra}1: unknown column 'comment' is ignored"]


def test_missing_required_column(tmp_path):
    header = [h for h in HEADER if h != "load_type"]
    config = read_workbook(write_workbook(tmp_path / "w.xlsx", [job_row()], header=header))
    assert errors_of(config) == ["jobs!1:1: missing required column(s): load_type"]


def test_missing_jobs_sheet(tmp_path):
    with pytest.raises(WorkbookError, match="no sheet named 'jobs'"):
        read_workbook(write_workbook(tmp_path / "w.xlsx", [job_row()], sheet="Sheet1"))


def test_not_a_workbook(tmp_path):
    path = tmp_path / "w.xlsx"
    path.write_text("job_name,enabled\n")
    with pytest.raises(WorkbookError, match="not an .xlsx workbook"):
        read_workbook(path)


def test_empty_sheet(tmp_path):
    book = openpyxl.Workbook()
    book.active.title = "jobs"
    book.save(tmp_path / "w.xlsx")
    config = read_workbook(tmp_path / "w.xlsx")
    assert errors_of(config) == ["jobs!A1: the sheet is empty: a header row is expected"]


def test_huge_cell_is_rejected_without_echoing_it(tmp_path):
    config = read_workbook(write_workbook(tmp_path / "w.xlsx", [job_row(source_table="x" * 5000)]))
    assert errors_of(config) == ["jobs!F2: source_table is longer than 1000 characters"]


def test_many_rows_read(tmp_path):
    rows = [job_row(job_name=f"job_{i}", source_table=f"t_{i}") for i in range(2000)]
    config = read_workbook(write_workbook(tmp_path / "w.xlsx", rows))
    assert len(config.jobs) == 2000 and config.errors == []


def test_template_has_dropdowns_and_descriptions_and_reads_back_empty(tmp_path):
    path = write_template(tmp_path / "t.xlsx")
    book = openpyxl.load_workbook(path)
    assert [c.value for c in book["jobs"][1]] == HEADER
    validations = {str(v.sqref): v.formula1 for v in book["jobs"].data_validations.dataValidation}
    assert validations["B2:B1000"] == '"Y,N"'
    assert validations["H2:H1000"] == '"FULL,INCREMENTAL,CDC"'
    assert validations["C2:C1000"] == '"postgres,sqlite,oracle,mssql,azure_sql,rest_api"'
    assert [c.value for c in book["api_endpoints"][1]] == [c.name for c in API_COLUMNS]
    descriptions = [[c.value for c in row][1:] for row in book["descriptions"].iter_rows()]
    assert [r[0] for r in descriptions[1:len(HEADER) + 1]] == HEADER
    assert [r[0] for r in descriptions[len(HEADER) + 1:len(HEADER) + len(API_COLUMNS) + 1]] == \
        [c.name for c in API_COLUMNS]
    credentials = [[c.value for c in row] for row in book["descriptions"].iter_rows()][len(HEADER) + len(API_COLUMNS) + 2:]
    sections = [r[0] for r in credentials if r[0] and r[0].endswith(" credentials") and r[1] is None]
    assert sections == ["connection credentials", "oracle credentials", "mssql credentials",
                        "azure_sql credentials"]
    fields = {r[1]: r[2] for r in credentials if r[0] == "oracle credentials" and r[1]}
    assert fields["service_name"] == "service_name or sid" and fields["sid"] == "service_name or sid"
    assert any(r[1] == "authentication" and "managed_identity" in (r[5] or "") for r in credentials)
    assert any(r[1] == "instance" and "1434" in (r[5] or "") for r in credentials)
    config = read_workbook(path)
    assert config.jobs == [] and config.errors == []


def test_template_prompts_each_column_where_a_person_types_and_wraps_its_descriptions(tmp_path):
    """An input prompt (Excel shows it when the cell is selected) on every header and data cell,
    carried by the dropdown where a column has one; one descriptions sheet, wrapped."""
    from ingest.config.columns import JOB_COLUMNS

    book = openpyxl.load_workbook(write_template(tmp_path / "t.xlsx"))
    prompts = {}
    for validation in book["jobs"].data_validations.dataValidation:
        assert validation.showInputMessage and validation.prompt
        for cell_range in str(validation.sqref).split():
            prompts[cell_range] = validation
    assert len(prompts) == 2 * len(JOB_COLUMNS)
    assert prompts["A1"].promptTitle == "job_name" and prompts["A1"].prompt.startswith("Required. ")
    assert "sqlite (the embedded demo only" in prompts["C2:C1000"].prompt and prompts["C2:C1000"].type == "list"
    assert all(len(v.prompt) <= 255 for v in prompts.values())
    assert "quality_descriptions" not in book.sheetnames
    assert book["descriptions"]["F2"].alignment.wrap_text

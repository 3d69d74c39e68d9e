"""The `filters` sheet fails closed (security #21, finding 2): a filter narrows what a job
loads, so a filters-sheet problem never lets a job it could have filtered run unfiltered.
A row naming no job holds back the jobs it could have meant (the same name ignoring case, or
as dlt normalises names) and, when it could mean any, every SQL job; an unusable header or a
misnamed sheet holds back every SQL job. Each held-back job says why, with the cell."""

from __future__ import annotations

import openpyxl

from ingest.config import read_workbook
from tests.workbooks import job_row, write_workbook

JOBS = [job_row(), job_row(job_name="orders_eu", target_table="orders_eu"),
        job_row(job_name="customers", source_table="customers"),
        job_row(job_name="paused", target_table="paused", enabled="N")]
GOOD = {"job_name": "customers", "column": "region", "operator": "eq", "value": "US"}


def read(tmp_path, filters, header=None, sheet="filters"):
    path = write_workbook(tmp_path / "w.xlsx", JOBS)
    book = openpyxl.load_workbook(path)
    ws = book.create_sheet(sheet)
    columns = header or ["job_name", "column", "operator", "value"]
    ws.append(columns)
    for row in filters:
        ws.append([row.get(c) for c in columns])
    book.save(path)
    return read_workbook(path)


def loaded(config) -> list[str]:
    return sorted(j.job_name for j in config.jobs if j.enabled)


def messages_of(config, job: str) -> list[str]:
    return [str(i) for i in config.errors if i.job_name == job]


def test_a_job_name_that_matches_ignoring_case_holds_that_job_back(tmp_path):
    config = read(tmp_path, [{"job_name": "Orders", "column": "region", "operator": "eq", "value": "US"}, GOOD])
    assert loaded(config) == ["customers", "orders_eu"]
    assert any(m.startswith("filters!A2: job 'orders' is not loaded") for m in messages_of(config, "orders"))
    assert config.job("customers").filters[0].column == "region"  # its own filter still applies


def test_a_job_name_that_matches_as_dlt_normalises_it_holds_that_job_back(tmp_path):
    config = read(tmp_path, [{"job_name": "Orders-EU", "column": "region", "operator": "eq", "value": "US"}])
    assert loaded(config) == ["customers", "orders"]
    assert "orders_eu" in config.invalid_rows.values()


def test_an_unknown_job_name_holds_back_every_sql_job(tmp_path):
    config = read(tmp_path, [{"job_name": "ordres", "column": "region", "operator": "eq", "value": "US"}, GOOD])
    assert loaded(config) == []
    assert "filters!A2: no job named 'ordres' in the jobs sheet" in [str(e) for e in config.errors]
    assert any("could be meant for any SQL job" in m for m in messages_of(config, "orders_eu"))
    assert "paused" not in config.invalid_rows.values()  # a disabled job loads nothing anyway


def test_an_empty_job_name_holds_back_every_sql_job(tmp_path):
    config = read(tmp_path, [{"job_name": None, "column": "region", "operator": "eq", "value": "US"}])
    assert loaded(config) == []
    assert any(m.startswith("filters!A2: job 'customers' is not loaded") for m in messages_of(config, "customers"))


def test_an_unusable_header_holds_back_every_sql_job(tmp_path):
    config = read(tmp_path, [{"job_name": "orders", "column": "region", "op": "eq", "value": "US"}],
                  header=["job_name", "column", "op", "value"])
    assert "filters!1:1: missing required column(s): operator" in [str(e) for e in config.errors]
    assert loaded(config) == []
    assert any("filters!1:1: job 'orders' is not loaded" in m for m in messages_of(config, "orders"))


def test_a_misnamed_filters_sheet_holds_back_every_sql_job(tmp_path):
    config = read(tmp_path, [GOOD], sheet="Filter")
    assert loaded(config) == []
    assert any("sheet 'Filter'" in m and "name it 'filters'" in m for m in messages_of(config, "orders"))
    # found by the workbook fuzz: the issue named sheet 'filters' (not there) and no cell at all
    held = [e for e in config.errors if e.job_name == "orders"]
    assert held and all(e.place == "Filter!1:1" for e in held), held


def test_a_clean_sheet_loads_every_job_with_its_filters(tmp_path):
    config = read(tmp_path, [GOOD])
    assert config.errors == [] and loaded(config) == ["customers", "orders", "orders_eu"]

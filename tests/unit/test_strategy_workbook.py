"""Workbook rules of the watermark strategies: filters only in the structured form, free SQL
rejected at its cell, strategies that need a key or INCREMENTAL say so; other jobs still run."""

from __future__ import annotations

from ingest.config import read_workbook
from ingest.config.model import FilterRule, JobConfig, Lookback
from ingest.config.template import write_template
from tests.workbooks import HEADER, job_row, write_workbook

HEADER_X = HEADER


def read(tmp_path, rows, filters=None):
    return read_workbook(write_workbook(tmp_path / "w.xlsx", rows, header=HEADER_X,
                                        extra_sheets={"filters": filters} if filters else None))


def test_strategy_columns_become_typed_fields_and_survive_json(tmp_path):
    config = read(tmp_path, [job_row(load_type="INCREMENTAL", watermark_column="modified_at, id",
                                     lookback="2 days", delete_flag_column="is_deleted", detect_deleted_keys="Y")],
                  [{"job_name": "orders", "column": "region", "operator": "not in", "value": "US, EU"},
                   {"job_name": "orders", "column": "qty", "operator": "ge", "value": 5},
                   {"job_name": "orders", "column": "note", "operator": "is null", "value": None}])
    assert config.errors == []
    job = config.jobs[0]
    assert job.watermark_column == "modified_at" and job.watermark_tiebreak == ("id",)
    assert job.lookback == Lookback(2, "days") and job.lookback.seconds == 172800
    assert job.filters == (FilterRule("region", "not in", ("US", "EU"), 2), FilterRule("qty", ">=", (5,), 3),
                           FilterRule("note", "is null", (), 4))
    assert job.detect_deleted_keys and job.delete_flag_column == "is_deleted"
    assert JobConfig.from_dict(job.to_dict()) == job  # a Durable activity input


def test_free_sql_and_unknown_operators_are_rejected_at_their_cell(tmp_path):
    config = read(tmp_path, [job_row(), job_row(job_name="other", target_table="other"),
                             job_row(job_name="third", target_table="third")],
                  [{"job_name": "orders", "column": "region = 'US' OR 1=1", "operator": "eq", "value": "US"},
                   {"job_name": "other", "column": "region", "operator": "; DROP TABLE x", "value": "US"},
                   {"job_name": "third", "column": "region", "operator": "is null", "value": "US"}])
    errors = [str(e) for e in config.errors]
    assert any(e.startswith("filters!B2: column \"region = 'US' OR 1=1\" is not a plain column name") for e in errors)
    assert any(e.startswith("filters!C3: operator '; DROP TABLE x' is not one of eq, !=") for e in errors)
    assert any(e.startswith("filters!D4: operator 'is null' takes no value") for e in errors)
    assert config.jobs == [] and set(config.invalid_rows.values()) == {"orders", "other", "third"}


def test_a_bad_filter_rejects_only_its_job(tmp_path):
    """A row naming no job rejects more (tests/unit/test_filters_fail_closed.py)."""
    config = read(tmp_path, [job_row(), job_row(job_name="good", target_table="good")],
                  [{"job_name": "orders", "column": "region", "operator": "between", "value": "A"},
                   {"job_name": "good", "column": "region", "operator": "like", "value": "U%"}])
    assert [j.job_name for j in config.jobs] == ["good"]
    assert any(str(e).startswith("filters!C2: operator 'between' is not one of") for e in config.errors)


def test_strategies_name_what_they_need(tmp_path):
    config = read(tmp_path, [
        job_row(load_type="FULL", lookback="3 days"),
        job_row(job_name="nokey", target_table="nokey", load_type="INCREMENTAL", watermark_column="u",
                primary_key=None, lookback="3 days", detect_deleted_keys="Y"),
        job_row(job_name="badunit", target_table="badunit", load_type="INCREMENTAL", watermark_column="u",
                lookback="3 fortnights"),
        job_row(job_name="expr", target_table="expr", load_type="INCREMENTAL",
                watermark_column="greatest(a, b)")])
    errors = [str(e) for e in config.errors]
    from openpyxl.utils import get_column_letter

    from tests.workbooks import HEADER

    def col(name: str) -> str:
        return get_column_letter(HEADER.index(name) + 1)

    lookback, deleted = col("lookback"), col("detect_deleted_keys")
    assert f"jobs!{lookback}2: lookback needs load_type INCREMENTAL" in errors
    assert f"jobs!{lookback}3: lookback needs primary_key: re-read rows are recognised by key" in errors
    assert f"jobs!{deleted}3: detect_deleted_keys needs primary_key" in errors
    assert any(e.startswith(f"jobs!{lookback}4: lookback '3 fortnights' is not an amount with a unit") for e in errors)
    assert any(e.startswith("jobs!I5:") and "free SQL is not accepted" in e for e in errors)
    assert config.jobs == []


def test_template_has_the_filters_sheet_and_new_columns(tmp_path):
    import openpyxl

    book = openpyxl.load_workbook(write_template(tmp_path / "t.xlsx"))
    assert [c.value for c in book["filters"][1]] == ["job_name", "column", "operator", "value"]
    jobs_header = [c.value for c in book["jobs"][1]]
    assert {"lookback", "delete_flag_column", "detect_deleted_keys"} <= set(jobs_header)

"""Two enabled jobs never write one lake table as dlt names it (security #21, finding 4).
dlt normalises table names (`sales_` becomes `salesx`), so targets are compared in dlt's
form, with the tables a job derives (`<t>_deleted_keys`, the SCD2 staging table
`<t>__scd2_stage`) and the default target from `source_table`. Before, `salesx` and
`sales_` both loaded into folder `salesx` and each FULL replace deleted the other's files."""

from __future__ import annotations

from openpyxl.utils import get_column_letter

from ingest.config import read_workbook
from tests.workbooks import HEADER, job_row, write_workbook


def col(name: str) -> str:
    return get_column_letter(HEADER.index(name) + 1)


def read(tmp_path, rows):
    config = read_workbook(write_workbook(tmp_path / "w.xlsx", rows))
    return config, [str(e) for e in config.errors]


def test_targets_that_dlt_normalises_alike_collide_at_the_target_cell(tmp_path):
    config, errors = read(tmp_path, [job_row(job_name="a", target_table="salesx"),
                                     job_row(job_name="b", source_table="sales", target_table="sales_")])
    assert errors == [f"jobs!{col('target_table')}3: lake table 'sales_' is already written by job 'a' (row 2):"
                      " dlt names 'sales_' and 'salesx' alike ('salesx')"]
    assert [j.job_name for j in config.jobs] == ["a"]


def test_a_default_target_from_source_table_collides_at_the_source_table_cell(tmp_path):
    config, errors = read(tmp_path, [job_row(job_name="a", target_table="salesx"),
                                     job_row(job_name="b", source_table="Sales_")])
    assert errors == [f"jobs!{col('source_table')}3: lake table 'sales_' is already written by job 'a' (row 2):"
                      " dlt names 'sales_' and 'salesx' alike ('salesx')"]


def test_a_target_on_another_jobs_deleted_keys_table_collides(tmp_path):
    config, errors = read(tmp_path, [
        job_row(job_name="a", load_type="INCREMENTAL", watermark_column="u", detect_deleted_keys="Y"),
        job_row(job_name="b", source_table="x", target_table="orders_deleted_keys")])
    assert errors == [f"jobs!{col('target_table')}3: lake table 'orders_deleted_keys' is already written by job"
                      " 'a' (row 2) as its deleted-keys table"]


def test_a_derived_table_on_an_earlier_jobs_table_collides_at_the_cell_that_derives_it(tmp_path):
    config, errors = read(tmp_path, [
        job_row(job_name="a", source_table="x", target_table="dim__scd2_stage"),
        job_row(job_name="b", source_table="dim", table_format="delta", scd2="Y"),
        job_row(job_name="c", source_table="y", target_table="c_deleted_keys"),
        job_row(job_name="d", source_table="z", target_table="c", load_type="INCREMENTAL", watermark_column="u",
                detect_deleted_keys="Y")])
    assert errors == [
        f"jobs!{col('scd2')}3: its SCD2 staging table 'dim__scd2_stage' is already written by job 'a' (row 2)",
        f"jobs!{col('detect_deleted_keys')}5: its deleted-keys table 'c_deleted_keys' is already written by job"
        " 'c' (row 4)"]
    assert [j.job_name for j in config.jobs] == ["a", "c"]


def test_a_rest_job_defaults_to_its_job_name_and_collides_at_the_job_name_cell(tmp_path):
    from tests.workbooks import api_row, rest_job_row

    config = read_workbook(write_workbook(tmp_path / "w.xlsx", [
        job_row(job_name="a", target_table="coins"), rest_job_row(job_name="coins_")],
        extra_sheets={"api_endpoints": [api_row(job_name="coins_")]}))
    assert [str(e) for e in config.errors] == []  # coins_ is coinsx for dlt, not coins
    config = read_workbook(write_workbook(tmp_path / "w2.xlsx", [
        job_row(job_name="a", target_table="coinsx"), rest_job_row(job_name="coins_")],
        extra_sheets={"api_endpoints": [api_row(job_name="coins_")]}))
    assert ("jobs!A3: lake table 'coins_' is already written by job 'a' (row 2): dlt names 'coins_' and 'coinsx'"
            " alike ('coinsx')") in [str(e) for e in config.errors]
    assert [j.job_name for j in config.jobs] == ["a"]


def test_disabled_jobs_and_distinct_names_do_not_collide(tmp_path):
    config, errors = read(tmp_path, [job_row(job_name="a", target_table="salesx"),
                                     job_row(job_name="b", target_table="sales_", enabled="N"),
                                     job_row(job_name="c", target_table="sales_x")])
    assert errors == [] and [j.job_name for j in config.jobs] == ["a", "b", "c"]


def test_a_target_on_another_jobs_nested_tables_collides_either_way(tmp_path):
    """dlt makes `<t>__<field>` tables for nested data (a REST job's lists): `events__tags` is
    job `events`'s (issue 32: it silently replaced that child table)."""
    _, errors = read(tmp_path, [job_row(job_name="events", source_table="events"),
                                job_row(job_name="tags", source_table="x", target_table="events__tags")])
    assert errors == [f"jobs!{col('target_table')}3: lake table 'events__tags' is a nested table of lake table"
                      " 'events', written by job 'events' (row 2)"]
    _, errors = read(tmp_path, [job_row(job_name="tags", source_table="x", target_table="events__tags"),
                                job_row(job_name="events", source_table="events")])
    assert errors == [f"jobs!{col('source_table')}3: its nested tables 'events__*' would include lake table"
                      " 'events__tags', written by job 'tags' (row 2)"]
    _, errors = read(tmp_path, [job_row(job_name="events", source_table="events"),
                                job_row(job_name="tags", source_table="x", target_table="events_tags")])
    assert errors == []  # one underscore: not a nested table

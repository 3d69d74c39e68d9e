"""The table-format columns of the jobs sheet: parsed into JobConfig, and every bad
combination rejected with its sheet!cell."""

from __future__ import annotations

from openpyxl.utils import get_column_letter

from ingest.config import read_workbook
from ingest.config.model import FullMode, JobConfig, TableFormat
from tests.workbooks import HEADER, job_row, write_workbook


def cell(column: str, row: int = 2) -> str:
    return f"jobs!{get_column_letter(HEADER.index(column) + 1)}{row}"


def errors(tmp_path, **values) -> list[str]:
    config = read_workbook(write_workbook(tmp_path / "w.xlsx", [job_row(**values)]))
    return [str(e) for e in config.errors]


def test_delta_job_columns_are_parsed_and_survive_json(tmp_path):
    config = read_workbook(write_workbook(tmp_path / "w.xlsx", [job_row(
        table_format="Delta", load_type="INCREMENTAL", watermark_column="updated_at", scd2="Y",
        partition_columns="country, region", partition_date_column="created_at", zorder_columns="customer_id")]))
    assert config.errors == []
    job = config.jobs[0]
    assert (job.table_format, job.scd2, job.partition_columns, job.partition_date_column, job.zorder_columns) == (
        TableFormat.DELTA, True, ("country", "region"), "created_at", ("customer_id",))
    assert JobConfig.from_dict(job.to_dict()) == job


def test_parquet_is_the_default_and_snapshot_is_read(tmp_path):
    config = read_workbook(write_workbook(tmp_path / "w.xlsx", [job_row(full_mode="snapshot")]))
    job = config.jobs[0]
    assert (job.table_format, job.full_mode, job.scd2) == (TableFormat.PARQUET, FullMode.SNAPSHOT, False)
    assert JobConfig.from_dict(job.to_dict()) == job


def test_unknown_table_format_names_its_cell(tmp_path):
    assert errors(tmp_path, table_format="iceberg") == [
        f"{cell('table_format')}: table_format 'iceberg' is not parquet or delta"]


def test_delta_only_columns_on_a_parquet_job_are_errors_at_their_cells(tmp_path):
    found = errors(tmp_path, scd2="Y", partition_columns="country", partition_date_column="created_at",
                   zorder_columns="id")
    assert found == [f"{cell(c)}: {c} needs table_format delta (this job writes parquet)"
                     for c in ("scd2", "partition_columns", "partition_date_column", "zorder_columns")]


def test_scd2_without_primary_key_is_an_error_at_the_key_cell(tmp_path):
    assert errors(tmp_path, table_format="delta", scd2="Y", primary_key=None) == [
        f"{cell('primary_key')}: primary_key is required with scd2 Y (versions of a row are matched by their key)"]


def test_delta_incremental_without_primary_key_is_an_error(tmp_path):
    found = errors(tmp_path, table_format="delta", load_type="INCREMENTAL", watermark_column="updated_at",
                   primary_key=None)
    assert found == [f"{cell('primary_key')}: primary_key is required for INCREMENTAL on delta"
                     " (the load is a MERGE on the key)"]


def test_snapshot_on_delta_or_incremental_is_rejected(tmp_path):
    assert errors(tmp_path, table_format="delta", full_mode="snapshot")[0].startswith(
        f"{cell('full_mode')}: full_mode snapshot is for parquet")
    assert errors(tmp_path, full_mode="snapshot", load_type="INCREMENTAL", watermark_column="updated_at") == [
        f"{cell('full_mode')}: full_mode snapshot needs load_type FULL"]


def test_bad_scd2_and_partition_cells(tmp_path):
    assert errors(tmp_path, table_format="delta", scd2="maybe") == [f"{cell('scd2')}: scd2 'maybe' is not Y or N"]
    assert errors(tmp_path, table_format="delta", partition_columns="a,,b") == [
        f"{cell('partition_columns')}: partition_columns 'a,,b' has an empty column name"]
    assert errors(tmp_path, table_format="delta", zorder_columns="a;drop") == [
        f"{cell('zorder_columns')}: zorder_columns column 'a;drop' is not a plain identifier (letters, digits, _, $"
        " or #, not starting with a digit, at most 128 characters)"]


def test_delta_storage_options_for_azurite_use_the_emulator_and_its_port(monkeypatch):
    import os

    from ingest.lake.destination import delta_storage_options
    from ingest.core.settings import Settings

    monkeypatch.delenv("AZURITE_BLOB_STORAGE_URL", raising=False)
    conn = ("DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;"
            "BlobEndpoint=http://127.0.0.1:41234/devstoreaccount1;")
    options = delta_storage_options(Settings(destination="az://lake/bronze", azure_storage_connection_string=conn))
    assert options == {"azure_storage_account_name": "devstoreaccount1", "azure_storage_account_key": "a2V5",
                       "azure_storage_use_emulator": "true"}
    assert os.environ["AZURITE_BLOB_STORAGE_URL"] == "http://127.0.0.1:41234"
    assert delta_storage_options(Settings(destination="lake", azure_storage_connection_string=conn)) == {}

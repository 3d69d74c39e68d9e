"""Build workbooks for tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openpyxl

HEADER = ["job_name", "enabled", "source_type", "connection", "source_schema", "source_table",
          "target_table", "load_type", "watermark_column", "primary_key", "last_watermark",
          "rowcount_tolerance_pct", "alert_recipients", "schedule", "depends_on", "tags",
          # table formats
          "table_format", "full_mode", "scd2", "partition_columns", "partition_date_column", "zorder_columns",
          # watermark strategies
          "lookback", "delete_flag_column", "detect_deleted_keys",
          # schema drift and data quality
          "schema_contract", "drift_severity",
          # chunked loads
          "chunk_size", "chunk_column",
          # change data capture
          "cdc_deletes",
          # watermarks know their lake
          "watermark_lake",
          # guards
          "max_shrink_pct"]
QUALITY_HEADER = ["job_name", "column", "rule", "argument", "severity"]


def job_row(**values: Any) -> dict[str, Any]:
    row = {"job_name": "orders", "enabled": "Y", "source_type": "postgres", "connection": "pg",
           "source_schema": "public", "source_table": "orders", "target_table": None,
           "load_type": "FULL", "watermark_column": None, "primary_key": "id", "last_watermark": None,
           "alert_recipients": None}
    row.update(values)
    return row


def write_workbook(path: Path, rows: list[dict[str, Any]], header: list[str] | None = None,
                   sheet: str = "jobs", extra_sheets: dict[str, list[dict[str, Any]]] | None = None,
                   rules: list[dict[str, Any]] | None = None) -> Path:
    """A workbook with the jobs sheet and, optionally, more sheets (name -> rows as dicts;
    each sheet's header is the union of its rows' keys, in first-seen order). `rules`, when
    given, become the `quality_rules` sheet (one dict per row)."""
    header = header or HEADER
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = sheet
    ws.append(header)
    for row in rows:
        ws.append([row.get(name) for name in header])
    for name, records in (extra_sheets or {}).items():
        extra = book.create_sheet(name)
        columns = list(dict.fromkeys(k for record in records for k in record))
        extra.append(columns)
        for record in records:
            extra.append([record.get(c) for c in columns])
    if rules is not None:
        quality = book.create_sheet("quality_rules")
        quality.append(QUALITY_HEADER)
        for rule in rules:
            quality.append([rule.get(name) for name in QUALITY_HEADER])
    book.save(path)
    return path


FAKE_API_HOSTS = {"SOURCES__FAKE_API__ALLOWED_HOSTS": "127.0.0.1", "SOURCES__FAKE_API__ALLOW_HTTP": "true"}
"""The host settings of connection `fake_api` (beside its secrets, never in the workbook)."""


def api_row(**values: Any) -> dict[str, Any]:
    """An api_endpoints row for the fake CoinGecko markets endpoint (tests/fake_api.py)."""
    row = {"job_name": "coins", "base_url": "http://127.0.0.1:1/api/v3", "path": "coins/markets",
           "params": "vs_currency=usd&order=market_cap_desc", "data_selector": None, "paginator": "page_number",
           "page_size": 100, "page_size_param": "per_page", "page_param": "page", "start_page": 1,
           "cursor_path": None, "cursor_param": None, "incremental_param": None, "auth": "none", "auth_param": None}
    row.update(values)
    return row


def rest_job_row(**values: Any) -> dict[str, Any]:
    """A rest_api job on connection `fake_api`, whose settings allow the fake API's host over
    plain http (FAKE_API_HOSTS: set them in the environment, as the `api` fixture does)."""
    row = job_row(job_name="coins", source_type="rest_api", connection="fake_api", source_schema=None,
                  source_table=None, target_table=None, primary_key="id")
    row.update(values)
    return row


def incremental_cursor_book(path: Path, api_url: str) -> Path:
    """An INCREMENTAL REST job on the fake API's cursor-paginated `v2/coins`, asking only for
    records updated since its watermark (tests/fake_api.py)."""
    return write_workbook(path, [rest_job_row(load_type="INCREMENTAL", watermark_column="last_updated")],
                          extra_sheets={"api_endpoints": [api_row(
                              base_url=api_url, path="v2/coins", params=None, paginator="cursor", data_selector="data",
                              page_size=100, page_size_param="limit", page_param=None, start_page=None,
                              cursor_path="next_cursor", cursor_param="cursor", incremental_param="updated_since")]})

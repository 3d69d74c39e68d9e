"""Build workbooks for tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openpyxl

HEADER = ["job_name", "enabled", "source_type", "connection", "source_schema", "source_table",
          "target_table", "load_type", "watermark_column", "primary_key", "last_watermark",
          "rowcount_tolerance_pct", "schema_contract", "drift_severity"]
QUALITY_HEADER = ["job_name", "column", "rule", "argument", "severity"]


def job_row(**values: Any) -> dict[str, Any]:
    row = {"job_name": "orders", "enabled": "Y", "source_type": "postgres", "connection": "pg",
           "source_schema": "public", "source_table": "orders", "target_table": None,
           "load_type": "FULL", "watermark_column": None, "primary_key": "id", "last_watermark": None}
    row.update(values)
    return row


def write_workbook(path: Path, rows: list[dict[str, Any]], header: list[str] | None = None,
                   sheet: str = "jobs", rules: list[dict[str, Any]] | None = None) -> Path:
    """`rules`, when given, become the `quality_rules` sheet (one dict per row)."""
    header = header or HEADER
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = sheet
    ws.append(header)
    for row in rows:
        ws.append([row.get(name) for name in header])
    if rules is not None:
        quality = book.create_sheet("quality_rules")
        quality.append(QUALITY_HEADER)
        for rule in rules:
            quality.append([rule.get(name) for name in QUALITY_HEADER])
    book.save(path)
    return path

"""Read the workbook safely and validate every row, collecting every issue with its place."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.utils import get_column_letter

from ingest.config.columns import COLUMNS_BY_NAME, JOB_COLUMNS, CellError, shown
from ingest.config.model import ConfigIssue, JobConfig, LoadType, WorkbookConfig
from ingest.config.quality_sheet import QUALITY_SHEET, apply_quality_sheet
from ingest.errors import WorkbookError

JOBS_SHEET = "jobs"
MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_UNPACKED_BYTES = 200 * 1024 * 1024
MAX_ROWS = 50_000
MAX_CELL_CHARS = 1_000

# openpyxl parses XML with defusedxml when it is installed; fail closed if it is not.
from openpyxl.xml import DEFUSEDXML  # noqa: E402

if not DEFUSEDXML:  # pragma: no cover - guarded by requirements.txt
    raise ImportError("defusedxml must be installed so workbooks are parsed safely")


def load_workbook_bytes(source: str | Path | bytes, label: str | None = None) -> tuple[bytes, str]:
    """The workbook's bytes and a label for messages; enforces the size caps."""
    if isinstance(source, bytes):
        data, name = source, label or "<workbook>"
    else:
        path = Path(source)
        name = label or str(path)
        if not path.is_file():
            raise WorkbookError(f"{name}: no such file")
        if path.stat().st_size > MAX_FILE_BYTES:
            raise WorkbookError(f"{name}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
        data = path.read_bytes()
    if len(data) > MAX_FILE_BYTES:
        raise WorkbookError(f"{name}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile:
        raise WorkbookError(f"{name}: not an .xlsx workbook (not a zip archive)") from None
    if unpacked > MAX_UNPACKED_BYTES:
        raise WorkbookError(f"{name}: unpacks to more than {MAX_UNPACKED_BYTES // (1024 * 1024)} MB")
    return data, name


def read_workbook(source: str | Path | bytes, label: str | None = None) -> WorkbookConfig:
    """Parse and validate the workbook. Raises WorkbookError only when nothing can be read;
    row-level problems are returned as issues and the row is left out of `jobs`."""
    data, name = load_workbook_bytes(source, label)
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises many types for a broken file
        root = exc
        while root.__cause__ is not None or root.__context__ is not None:
            root = root.__cause__ or root.__context__
        raise WorkbookError(f"{name}: cannot be read as a workbook ({type(root).__name__})") from None
    try:
        sheet_names = {s.lower(): s for s in book.sheetnames}
        if JOBS_SHEET not in sheet_names:
            raise WorkbookError(f"{name}: no sheet named '{JOBS_SHEET}' (found: {', '.join(book.sheetnames)})")
        sheet = book[sheet_names[JOBS_SHEET]]
        rows = list(sheet.iter_rows(max_row=MAX_ROWS + 2))
        quality_rows = (list(book[sheet_names[QUALITY_SHEET]].iter_rows(max_row=MAX_ROWS + 2))
                        if QUALITY_SHEET in sheet_names else None)  # optional sheet
    finally:
        book.close()
    config = WorkbookConfig(source=name)
    if len(rows) > MAX_ROWS + 1:
        config.issues.append(ConfigIssue(JOBS_SHEET, f"A{MAX_ROWS + 2}",
                                         f"more than {MAX_ROWS} job rows; the rest is ignored"))
        rows = rows[: MAX_ROWS + 1]
    if not rows:
        config.issues.append(ConfigIssue(JOBS_SHEET, "A1", "the sheet is empty: a header row is expected"))
        return config
    header = _read_header(rows[0], config)
    if header is None:
        return config
    _read_jobs(rows[1:], header, config)
    apply_quality_sheet(quality_rows, config, MAX_ROWS)
    return config


def _cell_value(cell: Any) -> Any:
    value = getattr(cell, "value", None)
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def _is_formula(cell: Any) -> bool:
    return getattr(cell, "data_type", None) == "f" or (
        isinstance(getattr(cell, "value", None), str) and cell.value.startswith("=")
    )


def _read_header(row: tuple, config: WorkbookConfig) -> dict[str, int] | None:
    header: dict[str, int] = {}
    for index, cell in enumerate(row):
        value = _cell_value(cell)
        if value is None:
            continue
        ref = f"{get_column_letter(index + 1)}1"
        name = str(value).strip().lower()
        if name in header:
            config.issues.append(ConfigIssue(JOBS_SHEET, ref, f"column '{name}' appears twice"))
        elif name in COLUMNS_BY_NAME:
            header[name] = index
        else:
            config.issues.append(ConfigIssue(JOBS_SHEET, ref, f"unknown column {shown(name)} is ignored",
                                             severity="warning"))
    missing = [c.name for c in JOB_COLUMNS if c.required and c.name not in header]
    if missing:
        config.issues.append(ConfigIssue(JOBS_SHEET, "1:1", "missing required column(s): " + ", ".join(missing)))
        return None
    if any(i.severity == "error" for i in config.issues):
        return None
    return header


def _read_jobs(rows: list[tuple], header: dict[str, int], config: WorkbookConfig) -> None:
    first_row_of: dict[str, int] = {}
    target_of: dict[str, tuple[int, str]] = {}
    candidates: list[JobConfig] = []
    for offset, row in enumerate(rows):
        row_number = offset + 2
        cells = {name: (row[i] if i < len(row) else None) for name, i in header.items()}
        if all(_cell_value(c) is None for c in row):
            continue
        issues: list[ConfigIssue] = []
        values: dict[str, Any] = {}
        for column in JOB_COLUMNS:
            if column.name not in header:
                continue
            cell = cells[column.name]
            ref = f"{get_column_letter(header[column.name] + 1)}{row_number}"
            raw = _cell_value(cell)
            if cell is not None and _is_formula(cell):
                issues.append(ConfigIssue(JOBS_SHEET, ref, f"{column.name} holds a formula"
                                          f" ({shown(raw)}); write the value itself"))
                continue
            if isinstance(raw, str) and len(raw) > MAX_CELL_CHARS:
                issues.append(ConfigIssue(JOBS_SHEET, ref, f"{column.name} is longer than"
                                          f" {MAX_CELL_CHARS} characters"))
                continue
            if raw is None:
                if column.required:
                    issues.append(ConfigIssue(JOBS_SHEET, ref, f"{column.name} is required"))
                continue
            try:
                values[column.name] = column.parse(raw)
            except CellError as exc:
                issues.append(ConfigIssue(JOBS_SHEET, ref, str(exc)))
        job_name = values.get("job_name")
        if job_name is not None:
            issues = [ConfigIssue(i.sheet, i.cell, i.message, i.severity, job_name) for i in issues]
        issues.extend(_row_rules(values, header, row_number, job_name))
        if job_name is not None:
            if job_name in first_row_of:
                ref = f"{get_column_letter(header['job_name'] + 1)}{row_number}"
                issues.append(ConfigIssue(JOBS_SHEET, ref, f"job_name '{job_name}' is already used"
                                          f" in row {first_row_of[job_name]}", job_name=job_name))
            else:
                first_row_of[job_name] = row_number
        if not issues:
            job = JobConfig(
                job_name=values["job_name"],
                enabled=values["enabled"],
                source_type=values["source_type"],
                connection=values["connection"],
                source_table=values["source_table"],
                load_type=values["load_type"],
                source_schema=values.get("source_schema"),
                target_table=values.get("target_table"),
                watermark_column=values.get("watermark_column"),
                primary_key=values.get("primary_key", ()),
                last_watermark=values.get("last_watermark"),
                rowcount_tolerance_pct=values.get("rowcount_tolerance_pct"),
                row=row_number,
                **{k: values[k] for k in ("schema_contract", "drift_severity") if k in values},
            )
            if job.enabled and job.table_name in target_of:
                other_row, other_job = target_of[job.table_name]
                col = "target_table" if job.target_table else "source_table"
                ref = f"{get_column_letter(header[col] + 1)}{row_number}"
                issues.append(ConfigIssue(JOBS_SHEET, ref, f"lake table '{job.table_name}' is already"
                                          f" written by job '{other_job}' (row {other_row})",
                                          job_name=job.job_name))
            else:
                if job.enabled:
                    target_of[job.table_name] = (row_number, job.job_name)
                candidates.append(job)
        if issues:
            config.issues.extend(issues)
            config.invalid_rows[row_number] = job_name
    duplicated = {name for name in first_row_of
                  if any(v == name for r, v in config.invalid_rows.items() if r != first_row_of[name])}
    for job in candidates:
        if job.job_name in duplicated:
            config.invalid_rows[job.row] = job.job_name  # ambiguous: neither copy runs
        else:
            config.jobs.append(job)


def _row_rules(values: dict[str, Any], header: dict[str, int], row: int,
               job_name: str | None) -> list[ConfigIssue]:
    """Rules that span several cells of one row."""
    issues: list[ConfigIssue] = []

    def ref(column: str) -> str:
        return f"{get_column_letter(header[column] + 1)}{row}" if column in header else f"{row}:{row}"

    if values.get("load_type") is LoadType.INCREMENTAL and not values.get("watermark_column"):
        issues.append(ConfigIssue(JOBS_SHEET, ref("watermark_column"),
                                  "watermark_column is required when load_type is INCREMENTAL",
                                  job_name=job_name))
    return issues

"""Read the workbook safely and validate every row, collecting every issue with its place."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.utils import get_column_letter

from ingest.config.api_sheet import API_SHEET, attach_api_endpoints
from ingest.config.dlt_names import dlt_table_path, nested_parents, LakeTable, dlt_name, lake_tables
from ingest.config.filters_sheet import FILTERS_SHEET, attach_filters, hold_back, misnamed_filters_sheet, sql_jobs
from ingest.config.sheets import cell_value, is_formula, read_header
from ingest.config.columns import (JOB_COLUMNS, CellError, dialect_identifier_problems,
                                   shown)
from ingest.config.cdc_rules import cdc_problems
from ingest.config.model import ConfigIssue, JobConfig, LoadType, WorkbookConfig
from ingest.config.chunk_rules import chunk_problems
from ingest.config.table_format_rules import table_format_problems
from ingest.config.quality_sheet import QUALITY_SHEET, apply_quality_sheet
from ingest.core.errors import WorkbookError

JOBS_SHEET = "jobs"
MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_UNPACKED_BYTES = 200 * 1024 * 1024
MAX_ROWS = 50_000
MAX_CELL_CHARS = 1_000
MAX_UNKNOWN_SHEET_BYTES = 1024 * 1024
"""A sheet the app does not read (notes, a person's own) may be this large, unpacked."""

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
    except Exception as exc:  # a damaged directory: NotImplementedError (version), ValueError, ...
        raise WorkbookError(f"{name}: not an .xlsx workbook (a damaged zip archive: {_root_name(exc)})") from None
    if unpacked > MAX_UNPACKED_BYTES:
        raise WorkbookError(f"{name}: unpacks to more than {MAX_UNPACKED_BYTES // (1024 * 1024)} MB")
    return data, name


def _root_name(exc: BaseException) -> str:
    """The name of the exception at the bottom of `exc`'s chain."""
    root = exc
    while root.__cause__ is not None or root.__context__ is not None:
        root = root.__cause__ or root.__context__
    return type(root).__name__


def _sheet_rows(book: Any, sheet_names: dict[str, str], name: str, max_row: int,
                label: str) -> list[tuple] | None:
    """The sheet's rows, as wide as its header and no wider; None when there is no such sheet.
    openpyxl's read-only mode pads every row to the width the sheet claims in its
    <dimension>: a 16 KB workbook claiming A1:XFD2001 took 265 MB and 5 s to read.
    openpyxl parses a sheet's XML only while its rows are read, so a broken sheet (a character
    XML forbids, a cell typed as a date that is none, a shared string that is not there) raises
    here: a WorkbookError naming the workbook, the sheet and the row, never a half-read sheet."""
    if name not in sheet_names:
        return None
    sheet = book[sheet_names[name]]
    rows: list[tuple] = []
    try:
        header = next(sheet.iter_rows(max_row=1), ())
        width = max((i + 1 for i, cell in enumerate(header) if cell_value(cell) is not None), default=0)
        if width == 0:
            return [tuple(header[:1])] if header else []
        rows.append(tuple(header[:width]))
        rows.extend(sheet.iter_rows(min_row=2, max_row=max_row, max_col=width))
    except Exception as exc:
        position = getattr(exc, "position", None)  # an XML parse error's (line, column)
        where = f" at line {position[0]}, column {position[1]} of its XML" if position else ""
        raise WorkbookError(f"{label}: sheet '{sheet.title}' cannot be read in row {len(rows) + 1} or a later"
                            f" one ({_root_name(exc)}{where}); save it again from Excel") from None
    return rows


def read_workbook(source: str | Path | bytes, label: str | None = None) -> WorkbookConfig:
    """Parse and validate the workbook. Raises WorkbookError only when nothing can be read;
    row-level problems are returned as issues and the row is left out of `jobs`."""
    data, name = load_workbook_bytes(source, label)
    _refuse_large_unknown_sheets(data, name)
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises many types for a broken file
        raise WorkbookError(f"{name}: cannot be read as a workbook ({_root_name(exc)})") from None
    try:
        sheet_names = {s.lower(): s for s in book.sheetnames}
        if JOBS_SHEET not in sheet_names:
            raise WorkbookError(f"{name}: no sheet named '{JOBS_SHEET}' (found: {', '.join(book.sheetnames)})")
        rows = _sheet_rows(book, sheet_names, JOBS_SHEET, MAX_ROWS + 2, name) or []
        api_rows = _sheet_rows(book, sheet_names, API_SHEET, MAX_ROWS + 1, name)
        filter_rows = _sheet_rows(book, sheet_names, FILTERS_SHEET, MAX_ROWS + 2, name)  # one more row: a cut sheet
        misnamed = misnamed_filters_sheet(book.sheetnames)
        quality_rows = _sheet_rows(book, sheet_names, QUALITY_SHEET, MAX_ROWS + 2, name)  # optional sheet
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
    header = read_header(JOBS_SHEET, rows[0], JOB_COLUMNS, config.issues)
    if header is None:
        return config
    _read_jobs(rows[1:], header, config)
    config.jobs, rejected = attach_api_endpoints(api_rows, config.jobs, config.issues)
    config.invalid_rows.update(rejected)
    config.jobs, rejected = attach_filters(filter_rows, config.jobs, config.issues, MAX_ROWS)
    config.invalid_rows.update(rejected)
    if misnamed is not None:  # its filters would silently not apply: fail closed
        rejected = hold_back(sql_jobs(config.jobs), "1:1", f"sheet '{misnamed}' looks like the filters sheet but"
                             f" is not read as one; name it '{FILTERS_SHEET}'", config.issues, sheet=misnamed)
        config.jobs = [j for j in config.jobs if j.row not in rejected]
        config.invalid_rows.update(rejected)
    _check_dependencies(config, header)
    apply_quality_sheet(quality_rows, config, MAX_ROWS)
    return config


def _refuse_large_unknown_sheets(data: bytes, name: str) -> None:
    """A sheet the app does not read, larger than MAX_UNKNOWN_SHEET_BYTES unpacked (the zip
    directory says so: nothing is parsed), is refused by name: openpyxl spent 8 s in a hidden
    sheet of 2M cells before any job was read. Small notes sheets are fine."""
    from ingest.config.sheet_parts import sheet_parts

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            parts = sheet_parts(archive)
    except Exception:  # a damaged or hostile workbook part: openpyxl's read below says what is wrong
        return
    known = {JOBS_SHEET, API_SHEET, FILTERS_SHEET, QUALITY_SHEET}  # the template's descriptions: 45 KB
    for part in parts:
        if part.name.lower() not in known and part.size > MAX_UNKNOWN_SHEET_BYTES:
            hidden = " hidden" if part.hidden else ""
            raise WorkbookError(f"{name}: the{hidden} sheet '{part.name}' is not one the app reads and unpacks to"
                                f" {part.size:,} bytes (more than {MAX_UNKNOWN_SHEET_BYTES // 1024 ** 2} MB);"
                                " move it to another workbook")


def _check_dependencies(config: WorkbookConfig, header: dict[str, int]) -> None:
    """depends_on naming unknown jobs or forming a cycle: an error on the job's own
    depends_on cell, and the row is rejected (the other jobs still run)."""
    from ingest.config.dependencies import graph_problems

    if "depends_on" not in header:
        return
    letter = get_column_letter(header["depends_on"] + 1)
    known = [n for n in config.invalid_rows.values() if n]
    problems = graph_problems({j.job_name: j.depends_on for j in config.jobs}, known)
    rejected = {p.job_name for p in problems}
    for problem in problems:
        row = config.job(problem.job_name).row
        config.issues.append(ConfigIssue(JOBS_SHEET, f"{letter}{row}", problem.message, job_name=problem.job_name))
    for job in [j for j in config.jobs if j.job_name in rejected]:
        config.invalid_rows[job.row] = job.job_name
    config.jobs = [j for j in config.jobs if j.job_name not in rejected]


def _read_jobs(rows: list[tuple], header: dict[str, int], config: WorkbookConfig) -> None:
    """Each non-empty row -> a JobConfig, or its issues with their cells; a job_name used
    twice rejects both rows, a lake table written by two enabled jobs rejects the second."""
    first_row_of: dict[str, int] = {}
    target_of = LakeTargets()
    candidates: list[JobConfig] = []
    for offset, row in enumerate(rows):
        row_number = offset + 2
        if all(cell_value(c) is None for c in row):
            continue
        values, issues = _parse_row(row, header, row_number)
        job_name = values.get("job_name")
        if job_name is not None:
            issues.extend(_duplicate_name(job_name, header, row_number, first_row_of))
        if not issues:
            job = _job_from_values(values, row_number)
            collision = _target_collision(job, header, target_of)
            if collision is not None:
                issues.append(collision)
            else:
                if job.enabled:
                    for table in lake_tables(job):
                        target_of.add(job, table)
                candidates.append(job)
        if issues:
            config.issues.extend(issues)
            config.invalid_rows[row_number] = job_name
    _keep_unambiguous(candidates, first_row_of, config)


def _parse_row(row: tuple, header: dict[str, int], row_number: int) -> tuple[dict[str, Any], list[ConfigIssue]]:
    """The row's parsed values by column name, and the issues of its cells and of its
    cross-cell rules (each naming the job once its name could be read)."""
    cells = {name: (row[i] if i < len(row) else None) for name, i in header.items()}
    issues: list[ConfigIssue] = []
    values: dict[str, Any] = {}
    for column in JOB_COLUMNS:
        if column.name not in header:
            continue
        ref = f"{get_column_letter(header[column.name] + 1)}{row_number}"
        problem = _parse_cell(column, cells[column.name], values)
        if problem is not None:
            issues.append(ConfigIssue(JOBS_SHEET, ref, problem))
    job_name = values.get("job_name")
    if job_name is not None:
        issues = [ConfigIssue(i.sheet, i.cell, i.message, i.severity, job_name) for i in issues]
    rejected = {i.cell for i in issues}
    failed = {c for c, index in header.items() if f"{get_column_letter(index + 1)}{row_number}" in rejected}
    issues.extend(_row_rules(values, header, row_number, job_name, failed))
    return values, issues


def _parse_cell(column: Any, cell: Any, values: dict[str, Any]) -> str | None:
    """Parse one cell into `values`; the problem with it, if any."""
    raw = cell_value(cell)
    if cell is not None and is_formula(cell):
        return f"{column.name} holds a formula ({shown(raw)}); write the value itself"
    if isinstance(raw, str) and len(raw) > MAX_CELL_CHARS:
        return f"{column.name} is longer than {MAX_CELL_CHARS} characters"
    if raw is None:
        return f"{column.name} is required" if column.required else None
    try:
        values[column.name] = column.parse(raw)
    except CellError as exc:
        return str(exc)
    return None


def _duplicate_name(job_name: str, header: dict[str, int], row_number: int,
                    first_row_of: dict[str, int]) -> list[ConfigIssue]:
    if job_name not in first_row_of:
        first_row_of[job_name] = row_number
        return []
    ref = f"{get_column_letter(header['job_name'] + 1)}{row_number}"
    return [ConfigIssue(JOBS_SHEET, ref, f"job_name '{job_name}' is already used"
                        f" in row {first_row_of[job_name]}", job_name=job_name)]


def _job_from_values(values: dict[str, Any], row_number: int) -> JobConfig:
    return JobConfig(
        job_name=values["job_name"],
        enabled=values["enabled"],
        source_type=values["source_type"],
        connection=values.get("connection"),
        source_table=values.get("source_table"),
        load_type=values["load_type"],
        source_schema=values.get("source_schema"),
        target_table=values.get("target_table"),
        watermark_column=(values.get("watermark_column") or (None,))[0],
        watermark_tiebreak=tuple((values.get("watermark_column") or ())[1:]),
        lookback=values.get("lookback"),
        delete_flag_column=values.get("delete_flag_column"),
        detect_deleted_keys=values.get("detect_deleted_keys", False),
        primary_key=values.get("primary_key", ()),
        last_watermark=values.get("last_watermark"),
        watermark_lake=values.get("watermark_lake"),
        rowcount_tolerance_pct=values.get("rowcount_tolerance_pct"),
        max_shrink_pct=values.get("max_shrink_pct"),
        alert_recipients=values.get("alert_recipients", ()),
        schedule=values.get("schedule"),
        depends_on=values.get("depends_on", ()),
        tags=values.get("tags", ()),
        **_table_format_fields(values),
        chunk_column=values.get("chunk_column"),
        chunk_size=values.get("chunk_size"),
        **({"cdc_deletes": values["cdc_deletes"]} if values.get("cdc_deletes") else {}),
        row=row_number,
        **{k: values[k] for k in ("schema_contract", "drift_severity") if k in values},
    )


class LakeTargets:
    """The lake tables the enabled jobs read so far write, indexed three ways so a workbook of
    10,000 rows is checked in one pass (comparing every pair of nested names took minutes):
    by dlt name, by dlt table path, and by each table a path would be nested under."""

    def __init__(self) -> None:
        self.by_name: dict[str, tuple[JobConfig, LakeTable]] = {}
        self.by_path: dict[str, tuple[JobConfig, LakeTable]] = {}
        self.by_parent: dict[str, tuple[JobConfig, LakeTable]] = {}

    def add(self, job: JobConfig, table: LakeTable) -> None:
        entry = (job, table)
        self.by_name[dlt_name(table.name)] = entry
        self.by_path.setdefault(dlt_table_path(table.name), entry)
        for parent in nested_parents(table.name):
            self.by_parent.setdefault(parent, entry)


def _target_collision(job: JobConfig, header: dict[str, int], target_of: LakeTargets) -> ConfigIssue | None:
    """An enabled job writing a lake table (its own or one it derives) that an earlier enabled
    job already writes, compared as dlt names tables (`sales_` and `salesx` are one table)."""
    if not job.enabled:
        return None
    for table in lake_tables(job):
        claimed = target_of.by_name.get(dlt_name(table.name))
        if claimed is not None:
            return ConfigIssue(JOBS_SHEET, _lake_table_cell(job, table, header),
                               _collision_message(table, *claimed), job_name=job.job_name)
    for table in lake_tables(job):
        message = _nested_collision(table, target_of)
        if message is not None:
            return ConfigIssue(JOBS_SHEET, _lake_table_cell(job, table, header), message, job_name=job.job_name)
    return None


def _nested_collision(table: LakeTable, target_of: LakeTargets) -> str | None:
    """`table` is a nested table dlt makes for an earlier job's table (`events__tags` of
    `events`), or an earlier job writes one of `table`'s nested tables (README "Lake tables
    have owners")."""
    subject = f"its {table.role}" if table.role else "lake table"
    for parent in nested_parents(table.name):
        if parent in target_of.by_path:
            other, other_table = target_of.by_path[parent]
            return (f"{subject} '{table.name}' is a nested table of lake table '{other_table.name}', written by"
                    f" job '{other.job_name}' (row {other.row})")
    mine = dlt_table_path(table.name)
    if mine in target_of.by_parent and not table.role:
        other, other_table = target_of.by_parent[mine]
        return (f"its nested tables '{mine}__*' would include lake table '{other_table.name}', written by"
                f" job '{other.job_name}' (row {other.row})")
    return None


def _lake_table_cell(job: JobConfig, table: LakeTable, header: dict[str, int]) -> str:
    """The cell that makes the job write `table`: target_table, else the source_table it
    defaults from, else job_name (a rest_api job's default); a derived table's own column."""
    column = table.column or ("target_table" if job.target_table else
                              "source_table" if job.source_table else "job_name")
    if column not in header:
        column = "target_table" if job.target_table else "job_name"
    return f"{get_column_letter(header[column] + 1)}{job.row}"


def _collision_message(table: LakeTable, other: JobConfig, other_table: LakeTable) -> str:
    subject = f"its {table.role}" if table.role else "lake table"
    text = f"{subject} '{table.name}' is already written by job '{other.job_name}' (row {other.row})"
    if other_table.role:
        text += f" as its {other_table.role}"
    if other_table.name != table.name:
        text += f": dlt names '{table.name}' and '{other_table.name}' alike ('{dlt_name(table.name)}')"
    return text


def _keep_unambiguous(candidates: list[JobConfig], first_row_of: dict[str, int], config: WorkbookConfig) -> None:
    """The valid jobs, except a name that another (rejected) row also uses: neither copy runs."""
    duplicated = {name for name in first_row_of
                  if any(v == name for r, v in config.invalid_rows.items() if r != first_row_of[name])}
    for job in candidates:
        if job.job_name in duplicated:
            config.invalid_rows[job.row] = job.job_name  # ambiguous: neither copy runs
        else:
            config.jobs.append(job)


def _row_rules(values: dict[str, Any], header: dict[str, int], row: int,
               job_name: str | None, failed: set[str]) -> list[ConfigIssue]:
    """Rules that span several cells of one row."""
    issues: list[ConfigIssue] = []

    def ref(column: str) -> str:
        return f"{get_column_letter(header[column] + 1)}{row}" if column in header else f"{row}:{row}"

    source_type = values.get("source_type")
    if source_type is not None and source_type.is_sql:
        for column in ("connection", "source_table"):
            if not values.get(column) and column in header and column not in failed:
                issues.append(ConfigIssue(JOBS_SHEET, ref(column), f"{column} is required for source_type"
                                          f" {source_type.value}", job_name=job_name))
    if values.get("load_type") is LoadType.INCREMENTAL and not values.get("watermark_column"):
        issues.append(ConfigIssue(JOBS_SHEET, ref("watermark_column"),
                                  "watermark_column is required when load_type is INCREMENTAL",
                                  job_name=job_name))
    for column, message in dialect_identifier_problems(values):
        issues.append(ConfigIssue(JOBS_SHEET, ref(column), message, job_name=job_name))
    for column, message in table_format_problems(values):
        if column not in failed:
            issues.append(ConfigIssue(JOBS_SHEET, ref(column), message, job_name=job_name))
    issues.extend(ConfigIssue(JOBS_SHEET, ref(column), message, job_name=job_name)
                  for column, message in _strategy_rules(values) + cdc_problems(values) + chunk_problems(values))
    return issues


def _table_format_fields(values: dict[str, Any]) -> dict[str, Any]:
    """The table-format columns of a parsed row, as JobConfig keyword arguments."""
    names = ("table_format", "full_mode", "scd2", "partition_columns", "partition_date_column",
             "zorder_columns")
    return {name: values[name] for name in names if name in values}


def _strategy_rules(values: dict[str, Any]) -> list[tuple[str, str]]:
    """Watermark strategies (issue: watermarks): what each needs of the rest of the row."""
    problems: list[tuple[str, str]] = []
    source_type = values.get("source_type")
    incremental = values.get("load_type") is LoadType.INCREMENTAL
    has_key = bool(values.get("primary_key"))
    uses = [c for c in ("lookback", "delete_flag_column") if values.get(c)] + \
        (["detect_deleted_keys"] if values.get("detect_deleted_keys") else [])
    if len(values.get("watermark_column") or ()) > 1:
        uses.append("watermark_column")
    for column in uses:
        if source_type is not None and not source_type.is_sql:
            problems.append((column, f"{column} applies to SQL sources only, not {source_type.value}"))
    if values.get("lookback") and not incremental:
        problems.append(("lookback", "lookback needs load_type INCREMENTAL"))
    if values.get("lookback") and not has_key:
        problems.append(("lookback", "lookback needs primary_key: re-read rows are recognised by key"))
    if len(values.get("watermark_column") or ()) > 1 and not incremental:
        problems.append(("watermark_column", "several watermark columns need load_type INCREMENTAL"))
    if values.get("detect_deleted_keys") and not has_key:
        problems.append(("detect_deleted_keys", "detect_deleted_keys needs primary_key"))
    return problems

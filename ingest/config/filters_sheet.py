"""The `filters` sheet: row filters per SQL job in a safe structured form.

One row is `job_name | column | operator | value`; a job's rows are AND-ed. The column must be
a plain name (it is checked against the reflected table at load time), the operator one of
FILTER_OPERATORS, and the value is data: it is bound as a parameter, never put into SQL text
(ingest/sources/filters.py). Free SQL such as `region = 'US' OR 1=1` in any cell is rejected
with its sheet!cell. A whole query is not accepted either: name a database view in
`source_table` instead.

The sheet fails closed: a filter narrows what a job loads, so no problem with the sheet may
let a job it could have filtered run unfiltered. A bad row naming a job rejects that job; a
row naming no job rejects the jobs it could have been meant for (the same name ignoring case
or as dlt normalises names) or, when none matches, every enabled SQL job; an unusable header,
a sheet with too many rows or a sheet named almost `filters` rejects every enabled SQL job.
Each rejected job gets an error of its own naming the cell that caused it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from typing import Any, Sequence

from ingest.config.columns import FREE_SQL_HINT, CellError, Column, IDENTIFIER, parse_job_name, shown
from ingest.config.dlt_names import same_for_dlt
from ingest.config.model import FILTER_OPERATORS, ConfigIssue, FilterRule, FilterValue, JobConfig
from ingest.config.sheets import SheetRecord, cell_value, read_header, read_records

FILTERS_SHEET = "filters"
NO_VALUE = ("is null", "is not null")
ALIASES = {"eq": "=", "equals": "=", "ne": "!=", "<>": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
"""Excel takes a cell starting with `=` for a formula (and formulas are refused): write `eq`."""
CELL_OPERATORS = ("eq",) + tuple(op for op in FILTER_OPERATORS if op != "=")
LIST_OPERATORS = ("in", "not in")
MAX_LIST = 1000


def _filter_column(value: Any) -> str:
    text = str(value).strip()
    if not IDENTIFIER.match(text):
        raise CellError(f"column {shown(text)} is not a plain column name; {FREE_SQL_HINT}")
    return text


def _operator(value: Any) -> str:
    text = " ".join(str(value).strip().lower().split())
    text = ALIASES.get(text, text)
    if text not in FILTER_OPERATORS:
        raise CellError(f"operator {shown(value)} is not one of {', '.join(CELL_OPERATORS)}; {FREE_SQL_HINT}")
    return text


def _value(value: Any) -> FilterValue:
    """The cell as data: numbers stay numbers, dates become ISO text (typed at load time)."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value if isinstance(value, (int, float)) else str(value)


FILTER_COLUMNS: tuple[Column, ...] = (
    Column("job_name", True, parse_job_name, "The SQL job in the jobs sheet the filter applies to.", "orders_us"),
    Column("column", True, _filter_column, "A column of the job's table (checked against the source).", "region"),
    Column("operator", True, _operator, "One of: " + ", ".join(CELL_OPERATORS) + " (eq is equals: Excel"
           " reads a cell starting with = as a formula). No other SQL.", "eq", CELL_OPERATORS),
    Column("value", False, _value,
           "The value compared with, sent to the database as a bound parameter (never pasted into"
           " SQL). in / not in: values separated by commas. Empty for is null / is not null.", "US"),
)


def _values(operator: str, raw: FilterValue | None) -> tuple[FilterValue, ...]:
    if operator in NO_VALUE:
        if raw is not None:
            raise CellError(f"operator '{operator}' takes no value; leave value empty")
        return ()
    if raw is None:
        raise CellError(f"operator '{operator}' needs a value")
    if operator in LIST_OPERATORS:
        parts = [p.strip() for p in str(raw).split(",")] if isinstance(raw, str) else [raw]
        if any(p == "" for p in parts) or len(parts) > MAX_LIST:
            raise CellError(f"value {shown(raw)} must be 1 to {MAX_LIST} values separated by commas")
        return tuple(parts)
    if operator == "like" and not isinstance(raw, str):
        raise CellError(f"like needs a text pattern, found {shown(raw)}")
    return (raw,)


def misnamed_filters_sheet(sheet_names: Sequence[str]) -> str | None:
    """A sheet that is almost `filters` (`Filter`, ` filters `): meant as the filters sheet
    but not read as one, so its filters would silently not apply."""
    for name in sheet_names:
        if name.lower() != FILTERS_SHEET and name.strip().lower().rstrip("s") == FILTERS_SHEET.rstrip("s"):
            return name
    return None


def hold_back(jobs: Sequence[JobConfig], cell: str, reason: str, issues: list[ConfigIssue],
              sheet: str = FILTERS_SHEET) -> dict[int, str]:
    """Reject `jobs` because of a filters problem at `sheet`!`cell`: one error per job, so each
    rejected job's result says why."""
    for job in jobs:
        issues.append(ConfigIssue(sheet, cell, f"job '{job.job_name}' is not loaded: {reason}; it must not"
                                  " run unfiltered", job_name=job.job_name))
    return {job.row: job.job_name for job in jobs}


def sql_jobs(jobs: Sequence[JobConfig]) -> list[JobConfig]:
    """The jobs any filters row could be meant for: the enabled SQL jobs."""
    return [j for j in jobs if j.enabled and j.source_type.is_sql]


def attach_filters(rows: Sequence[Sequence[Any]] | None, jobs: list[JobConfig], issues: list[ConfigIssue],
                   max_rows: int | None = None) -> tuple[list[JobConfig], dict[int, str]]:
    """Join the sheet to the SQL jobs; fail closed (module docstring). `rows` may hold one
    row more than `max_rows` (plus the header) to show that the sheet was cut."""
    if not rows:
        return jobs, {}
    rules: dict[str, list[FilterRule]] = {}
    header = read_header(FILTERS_SHEET, rows[0], FILTER_COLUMNS, issues)
    if header is None:
        rejected = hold_back(sql_jobs(jobs), "1:1", "the filters sheet's header is unusable", issues)
    else:
        rules, rejected = _read_rules(rows, header, jobs, issues)
        if max_rows is not None and len(rows) > max_rows + 1:
            rejected.update(hold_back(sql_jobs(jobs), f"A{max_rows + 2}", f"the filters sheet has more than"
                                      f" {max_rows} rows and the rest was not read", issues))
    result = [replace(j, filters=tuple(rules.get(j.job_name, ()))) for j in jobs if j.row not in rejected]
    return result, rejected


def _read_rules(rows: Sequence[Sequence[Any]], header: dict[str, int], jobs: list[JobConfig],
                issues: list[ConfigIssue]) -> tuple[dict[str, list[FilterRule]], dict[int, str]]:
    """Each row's rule, by job; the jobs a bad row rejects."""
    by_name = {j.job_name: j for j in jobs}
    rules: dict[str, list[FilterRule]] = {}
    rejected: dict[int, str] = {}
    for record in read_records(FILTERS_SHEET, rows[1:], header, FILTER_COLUMNS):
        name = record.values.get("job_name")
        job = by_name.get(name) if name else None
        values = _check_record(record, header, job, name)
        record.issues = [replace(i, job_name=name) for i in record.issues]
        issues.extend(record.issues)
        if not record.issues:
            rules.setdefault(name, []).append(FilterRule(column=record.values["column"],
                                                         operator=record.values["operator"], values=values,
                                                         row=record.row))
        elif job is not None:
            rejected[job.row] = job.job_name
        else:
            raw = cell_value(_cell(rows[record.row - 1], header["job_name"]))
            rejected.update(_hold_back_meant(raw, jobs, record.ref(header, "job_name"), issues))
    return rules, rejected


def _check_record(record: SheetRecord, header: dict[str, int], job: JobConfig | None,
                  name: str | None) -> tuple[FilterValue, ...]:
    """Add the row's cross-cell problems to its issues; the rule's values."""
    if name is not None and job is None:
        record.issues.append(ConfigIssue(FILTERS_SHEET, record.ref(header, "job_name"),
                                         f"no job named '{name}' in the jobs sheet"))
    elif job is not None and not job.source_type.is_sql:
        record.issues.append(ConfigIssue(FILTERS_SHEET, record.ref(header, "job_name"),
                                         f"job '{name}' is a {job.source_type.value} job; filters apply"
                                         " to SQL sources only"))
    operator = record.values.get("operator")
    if operator is None:
        return ()
    try:
        return _values(operator, record.values.get("value"))
    except CellError as exc:
        record.issues.append(ConfigIssue(FILTERS_SHEET, record.ref(header, "value"), str(exc)))
        return ()


def _cell(row: Sequence[Any], index: int) -> Any:
    return row[index] if index < len(row) else None


def _hold_back_meant(raw: Any, jobs: list[JobConfig], cell: str, issues: list[ConfigIssue]) -> dict[int, str]:
    """A bad row whose job_name names no job: reject the jobs it could have been meant for."""
    text = "" if raw is None else str(raw)
    meant = [j for j in jobs if text and same_for_dlt(text, j.job_name)]
    if meant:
        reason = f"the filter row names {shown(text)}, which is this job's name ignoring case or as dlt normalises it"
        return hold_back(meant, cell, reason, issues)
    return hold_back(sql_jobs(jobs), cell, "the filter row names no job of the jobs sheet, so it could be meant for"
                     " any SQL job", issues)

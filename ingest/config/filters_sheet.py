"""The `filters` sheet: row filters per SQL job in a safe structured form.

One row is `job_name | column | operator | value`; a job's rows are AND-ed. The column must be
a plain name (it is checked against the reflected table at load time), the operator one of
FILTER_OPERATORS, and the value is data: it is bound as a parameter, never put into SQL text
(ingest/sources/filters.py). Free SQL such as `region = 'US' OR 1=1` in any cell is rejected
with its sheet!cell. A whole query is not accepted either: name a database view in
`source_table` instead.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from typing import Any, Sequence

from ingest.config.columns import FREE_SQL_HINT, CellError, Column, IDENTIFIER, parse_job_name, shown
from ingest.config.model import FILTER_OPERATORS, ConfigIssue, FilterRule, FilterValue, JobConfig
from ingest.config.sheets import read_header, read_records

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


def attach_filters(rows: Sequence[Sequence[Any]] | None, jobs: list[JobConfig],
                   issues: list[ConfigIssue]) -> tuple[list[JobConfig], dict[int, str]]:
    """Join the sheet to the SQL jobs. A job with a bad filter row is rejected (running it
    unfiltered could load rows it must not); other jobs run."""
    if not rows:
        return jobs, {}
    header = read_header(FILTERS_SHEET, rows[0], FILTER_COLUMNS, issues)
    if header is None:
        return jobs, {}
    by_name = {j.job_name: j for j in jobs}
    rules: dict[str, list[FilterRule]] = {}
    rejected: dict[int, str] = {}
    for record in read_records(FILTERS_SHEET, rows[1:], header, FILTER_COLUMNS):
        name = record.values.get("job_name")
        job = by_name.get(name) if name else None
        if name is not None and job is None:
            record.issues.append(ConfigIssue(FILTERS_SHEET, record.ref(header, "job_name"),
                                             f"no job named '{name}' in the jobs sheet"))
        elif job is not None and not job.source_type.is_sql:
            record.issues.append(ConfigIssue(FILTERS_SHEET, record.ref(header, "job_name"),
                                             f"job '{name}' is a {job.source_type.value} job; filters apply"
                                             " to SQL sources only"))
        operator = record.values.get("operator")
        if operator is not None and "operator" in record.values:
            try:
                values = _values(operator, record.values.get("value"))
            except CellError as exc:
                record.issues.append(ConfigIssue(FILTERS_SHEET, record.ref(header, "value"), str(exc)))
                values = ()
        record.issues = [replace(i, job_name=name) for i in record.issues]
        issues.extend(record.issues)
        if job is None:
            continue
        if record.issues:
            rejected[job.row] = job.job_name
        else:
            rules.setdefault(name, []).append(FilterRule(column=record.values["column"], operator=operator,
                                                         values=values, row=record.row))
    result = [replace(j, filters=tuple(rules.get(j.job_name, ()))) for j in jobs if j.row not in rejected]
    return result, rejected

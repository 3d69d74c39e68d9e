"""The optional `quality_rules` sheet: one row per rule (job_name, column, rule, argument,
severity). Every problem is a ConfigIssue naming its cell; a bad rule row is left out and the
job still runs with its other rules."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Callable

from openpyxl.utils import get_column_letter

from ingest.config.sheets import cell_value, is_formula, read_header
from ingest.config.columns import CellError, _text, is_number_or_iso_text, parse_identifier, parse_job_name, shown
from ingest.config.model import ConfigIssue, WorkbookConfig
from ingest.config.rules import NAMED_FORMATS, QualityRule, RuleKind, Severity

QUALITY_SHEET = "quality_rules"
MAX_CELL_CHARS = 1_000
MAX_ALLOWED_VALUES = 1_000


@dataclass(frozen=True)
class SheetColumn:
    name: str
    required: bool
    description: str
    example: str = ""
    choices: tuple[str, ...] = ()


RULE_NAMES = tuple(k.value for k in RuleKind)
QUALITY_COLUMNS: tuple[SheetColumn, ...] = (
    SheetColumn("job_name", True, "A job of the jobs sheet.", "sales_orders"),
    SheetColumn("column", False, "Column of the lake table the rule checks; for unique a comma-separated"
                " key (empty: the job's primary_key); empty for min_rows.", "email"),
    SheetColumn("rule", True, "What to check (see the rules below).", "not_null", RULE_NAMES),
    SheetColumn("argument", False, "Threshold, pattern, format, bound or value list, as the rule needs.", ""),
    SheetColumn("severity", False, "warn: report a failure; fail: also mark the job failed (its data"
                " stays in the lake, flagged). Default warn.", "fail", tuple(s.value for s in Severity)),
)

RULE_HELP: dict[RuleKind, tuple[str, str]] = {
    RuleKind.NOT_NULL: ("(none)", "No NULL in the column. Observed: NULL values."),
    RuleKind.MAX_NULL_PCT: ("percent, 0-100", "At most this share of NULLs. Observed: NULL percent."),
    RuleKind.UNIQUE: ("(none)", "No two rows share the key (rows with a NULL in the key are not counted)."
                      " Observed: surplus rows (rows minus distinct keys)."),
    RuleKind.REGEX: ("RE2 pattern, matched against the whole value", "Non-NULL values must match."
                     " Observed: values that do not."),
    RuleKind.FORMAT: (", ".join(NAMED_FORMATS), "Non-NULL values must have the named format (date:"
                      " YYYY-MM-DD and a real day). Observed: values that do not."),
    RuleKind.MIN: ("number, or ISO date / datetime", "Non-NULL values must be >= it. Observed: values below."),
    RuleKind.MAX: ("number, or ISO date / datetime", "Non-NULL values must be <= it. Observed: values above."),
    RuleKind.ALLOWED_VALUES: ("comma-separated values", "Non-NULL values must be one of them."
                              " Observed: values that are not."),
    RuleKind.MIN_ROWS: ("whole number >= 0", "The load wrote at least this many rows (for INCREMENTAL:"
                        " new rows). Observed: rows loaded."),
}


def _number_text(value: Any, label: str) -> str:
    if isinstance(value, bool):
        raise CellError(f"{label} {value} is a boolean, not a number")
    text = _text(value)
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise CellError(f"{label} {shown(value)} is not a number") from None
    if not number.is_finite():
        raise CellError(f"{label} {shown(value)} is not a finite number")
    return text


def _percentage(value: Any) -> str:
    text = _number_text(value, "max_null_pct argument")
    if not 0 <= Decimal(text) <= 100:
        raise CellError(f"max_null_pct argument {shown(value)} is not between 0 and 100")
    return text


def _min_rows(value: Any) -> str:
    text = _number_text(value, "min_rows argument")
    number = Decimal(text)
    if number != number.to_integral_value() or number < 0:
        raise CellError(f"min_rows argument {shown(value)} is not a whole number >= 0")
    return str(int(number))


def _bound(value: Any) -> str:
    """A number, or an ISO date / datetime (a date cell becomes its ISO text)."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, bool):
        raise CellError(f"bound {value} is a boolean, not a number or a date")
    text = _text(value)
    if is_number_or_iso_text(text):
        return text
    raise CellError(f"bound {shown(value)} is not a number or an ISO date/datetime"
                    " (e.g. 0, 99.5, 2024-01-31)")


def _regex(value: Any) -> str:
    """Checked with the engine that evaluates it (RE2, through pyarrow.compute)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text = _text(value)
    try:
        pc.match_substring_regex(pa.array([""], pa.string()), f"^(?:{text})$")
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise CellError(f"regex {shown(text)} is not a valid RE2 pattern ({exc})") from None
    return text


def _format(value: Any) -> str:
    text = _text(value).lower()
    if text not in NAMED_FORMATS:
        raise CellError(f"format {shown(value)} is not one of {', '.join(NAMED_FORMATS)}")
    return text


def _allowed(value: Any) -> str:
    parts = [p.strip() for p in _text(value).split(",")]
    if any(not p for p in parts):
        raise CellError(f"allowed_values {shown(value)} has an empty value")
    if len(parts) > MAX_ALLOWED_VALUES:
        raise CellError(f"allowed_values lists more than {MAX_ALLOWED_VALUES} values")
    return ",".join(parts)


ARGUMENT_PARSERS: dict[RuleKind, Callable[[Any], str] | None] = {
    RuleKind.NOT_NULL: None, RuleKind.UNIQUE: None,
    RuleKind.MAX_NULL_PCT: _percentage, RuleKind.REGEX: _regex, RuleKind.FORMAT: _format,
    RuleKind.MIN: _bound, RuleKind.MAX: _bound, RuleKind.ALLOWED_VALUES: _allowed, RuleKind.MIN_ROWS: _min_rows,
}


def _parse_rule(value: Any) -> RuleKind:
    text = _text(value).lower()
    try:
        return RuleKind(text)
    except ValueError:
        raise CellError(f"rule {shown(value)} is not one of {', '.join(RULE_NAMES)}") from None


def _parse_severity(value: Any) -> Severity:
    text = _text(value).lower()
    try:
        return Severity(text)
    except ValueError:
        raise CellError(f"severity {shown(value)} is not warn or fail") from None


def _parse_columns(value: Any, rule: RuleKind) -> tuple[str, ...]:
    parts = [p.strip() for p in _text(value).split(",")]
    if rule is not RuleKind.UNIQUE and len(parts) > 1:
        raise CellError(f"column {shown(value)} names several columns; only unique takes a key of several")
    if any(not p for p in parts):
        raise CellError(f"column {shown(value)} has an empty column name")
    check = parse_identifier("column")
    columns = tuple(check(p) for p in parts)
    if len(set(columns)) != len(columns):
        raise CellError(f"column {shown(value)} names a column twice")
    return columns


def apply_quality_sheet(rows: list[tuple] | None, config: WorkbookConfig, max_rows: int) -> None:
    """Validate the sheet's rows (None: no sheet) and attach each valid rule to its job."""
    if not rows:
        return
    if len(rows) > max_rows + 1:
        config.issues.append(ConfigIssue(QUALITY_SHEET, f"A{max_rows + 2}",
                                         f"more than {max_rows} rule rows; the rest is ignored"))
        rows = rows[: max_rows + 1]
    header = read_header(QUALITY_SHEET, rows[0], QUALITY_COLUMNS, config.issues)
    if header is None:
        return
    jobs = {job.job_name: job for job in config.jobs}
    rejected_jobs = {name for name in config.invalid_rows.values() if name}
    rules: dict[str, list[QualityRule]] = {}
    seen: dict[tuple, int] = {}
    for offset, row in enumerate(rows[1:]):
        number = offset + 2
        if all(cell_value(c) is None for c in row):
            continue
        rule, issues = _read_rule(row, number, header, jobs, rejected_jobs, cell_value, is_formula)
        if rule is not None:
            key = (rule.job_name, rule.rule, rule.columns, rule.argument)
            if key in seen:
                issues.append(ConfigIssue(QUALITY_SHEET, rule.place.split("!")[1],
                                          f"the same rule is already defined in row {seen[key]}", job_name=rule.job_name))
            else:
                seen[key] = number
        config.issues.extend(issues)
        if rule is not None and not issues:
            rules.setdefault(rule.job_name, []).append(rule)
    config.jobs = [replace(job, quality_rules=tuple(rules[job.job_name])) if job.job_name in rules else job
                   for job in config.jobs]


def _read_rule(row: tuple, number: int, header: dict[str, int], jobs: dict[str, Any], rejected_jobs: set[str],
               cell_value: Callable[[Any], Any], is_formula: Callable[[Any], bool]
               ) -> tuple[QualityRule | None, list[ConfigIssue]]:
    issues: list[ConfigIssue] = []

    def ref(name: str) -> str:
        return f"{get_column_letter(header[name] + 1)}{number}" if name in header else f"{number}:{number}"

    def problem(name: str, message: str) -> None:
        issues.append(ConfigIssue(QUALITY_SHEET, ref(name), message))

    raw = _raw_cells(row, header, cell_value, is_formula, problem)
    parsed: dict[str, Any] = {}
    for name, parse in (("job_name", parse_job_name), ("rule", _parse_rule), ("severity", _parse_severity)):
        if name in raw:
            try:
                parsed[name] = parse(raw[name])
            except CellError as exc:
                problem(name, str(exc))
    job_name, rule = parsed.get("job_name"), parsed.get("rule")
    if job_name is not None and job_name not in jobs and job_name not in rejected_jobs:
        problem("job_name", f"job_name '{job_name}' is not a job of the jobs sheet")
    columns: tuple[str, ...] = ()
    argument: str | None = None
    if rule is not None:
        columns = _rule_columns(rule, raw, jobs.get(job_name) if job_name else None, job_name, problem)
        argument = _rule_argument(rule, raw, problem)
    issues = [replace(i, job_name=job_name) for i in issues]
    if job_name is None or rule is None or job_name not in jobs:
        return None, issues
    return QualityRule(job_name=job_name, rule=rule, columns=columns, argument=argument,
                       severity=parsed.get("severity", Severity.WARN), place=f"{QUALITY_SHEET}!{ref('rule')}",
                       column_place=f"{QUALITY_SHEET}!{ref('column')}"), issues


Problem = Callable[[str, str], None]
"""Records an issue on a column of the rule's row: problem(column_name, message)."""


def _raw_cells(row: tuple, header: dict[str, int], cell_value: Callable[[Any], Any],
               is_formula: Callable[[Any], bool], problem: Problem) -> dict[str, Any]:
    """The row's non-empty cell values by column name; formulas, over-long and missing
    required cells are problems instead."""
    raw: dict[str, Any] = {}
    for column in QUALITY_COLUMNS:
        if column.name not in header:
            continue
        index = header[column.name]
        cell = row[index] if index < len(row) else None
        value = cell_value(cell)
        if cell is not None and is_formula(cell):
            problem(column.name, f"{column.name} holds a formula ({shown(value)}); write the value itself")
        elif isinstance(value, str) and len(value) > MAX_CELL_CHARS:
            problem(column.name, f"{column.name} is longer than {MAX_CELL_CHARS} characters")
        elif value is None and column.required:
            problem(column.name, f"{column.name} is required")
        elif value is not None:
            raw[column.name] = value
    return raw


def _rule_columns(rule: RuleKind, raw: dict[str, Any], job: Any, job_name: str | None,
                  problem: Problem) -> tuple[str, ...]:
    """The columns a rule checks: its column cell, or the job's primary key for `unique`."""
    if "column" in raw:
        if rule is RuleKind.MIN_ROWS:
            problem("column", "min_rows counts the rows of the load: leave column empty")
            return ()
        try:
            return _parse_columns(raw["column"], rule)
        except CellError as exc:
            problem("column", str(exc))
            return ()
    if rule is RuleKind.UNIQUE:
        if job is not None and not job.primary_key:
            problem("column", f"unique needs a column, or a primary_key on job '{job_name}'")
        elif job is not None:
            return job.primary_key
    elif rule is not RuleKind.MIN_ROWS:
        problem("column", f"column is required for rule {rule.value}")
    return ()


def _rule_argument(rule: RuleKind, raw: dict[str, Any], problem: Problem) -> str | None:
    parser = ARGUMENT_PARSERS[rule]
    if parser is None and "argument" in raw:
        problem("argument", f"rule {rule.value} takes no argument (found {shown(raw['argument'])})")
    elif parser is not None and "argument" not in raw:
        problem("argument", f"rule {rule.value} needs an argument: {RULE_HELP[rule][0]}")
    elif parser is not None:
        try:
            return parser(raw["argument"])
        except CellError as exc:
            problem("argument", str(exc))
    return None

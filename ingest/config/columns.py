"""The columns of the `jobs` sheet: name, whether required, how a cell is parsed, and the
text the template shows. Adding a column means adding one `Column` here and one field to
`JobConfig`; the reader, the validator and the template all follow this table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Callable

from ingest.config.model import LoadType, SourceType
from ingest.config.rules import SchemaContract, Severity

JOB_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
LAKE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,62}$")
"""A plain SQL identifier: nothing that needs quoting, so nothing can be injected."""
MAX_SHOWN = 60


class CellError(ValueError):
    """A cell's value is not acceptable; the message says why (without the place)."""


def shown(value: Any) -> str:
    """A cell value as it may appear in a message: repr, cut short."""
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 3] + "..."


def _text(value: Any) -> str:
    if isinstance(value, bool):
        raise CellError(f"expected text, found the boolean {value}")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _matching(label: str, pattern: re.Pattern[str], rule: str) -> Callable[[Any], str]:
    """A parser for text that must match `pattern`; `rule` says what is allowed."""

    def parse(value: Any) -> str:
        text = _text(value)
        if not pattern.match(text):
            raise CellError(f"{label} {shown(text)} {rule}")
        return text

    return parse


_LOWER_NAME = "must be 1-63 lowercase letters, digits or underscores, starting with a letter"
parse_job_name = _matching("job_name", JOB_NAME, _LOWER_NAME)
parse_lake_name = _matching("target_table", LAKE_NAME, _LOWER_NAME)
parse_connection = _matching("connection", JOB_NAME, "must be lowercase letters, digits or underscores"
                             " (it names the secret sources.<connection>.credentials)")


def parse_identifier(label: str) -> Callable[[Any], str]:
    return _matching(label, IDENTIFIER, "is not a plain identifier (letters, digits, _ or $, not starting"
                     " with a digit, at most 63 characters)")


def parse_enabled(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = _text(value).upper()
    if text in ("Y", "YES", "TRUE"):
        return True
    if text in ("N", "NO", "FALSE"):
        return False
    raise CellError(f"enabled {shown(value)} is not Y or N")


def _enum(enum_type: type, label: str, upper: bool) -> Callable[[Any], Any]:
    allowed = [m.value for m in enum_type]

    def parse(value: Any) -> Any:
        text = _text(value)
        text = text.upper() if upper else text.lower()
        try:
            return enum_type(text)
        except ValueError:
            raise CellError(f"{label} {shown(value)} is not {' or '.join(allowed)}") from None

    return parse


def parse_primary_key(value: Any) -> tuple[str, ...]:
    parts = [p.strip() for p in _text(value).split(",")]
    if any(not p for p in parts):
        raise CellError(f"primary_key {shown(value)} has an empty column name")
    check = parse_identifier("primary_key column")
    columns = tuple(check(p) for p in parts)
    if len(set(columns)) != len(columns):
        raise CellError(f"primary_key {shown(value)} names a column twice")
    return columns


def parse_watermark(value: Any) -> int | float | str:
    """Numbers stay numbers; dates and datetimes become ISO text; text must parse as one."""
    if isinstance(value, bool):
        raise CellError(f"last_watermark {value} is a boolean, not a number or a date")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = _text(value)
    try:
        return int(text)
    except ValueError:
        pass
    try:
        Decimal(text)
        if text.lower() not in ("nan", "inf", "-inf", "infinity", "-infinity"):
            return text
    except InvalidOperation:
        pass
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
        return text
    except ValueError:
        raise CellError(
            f"last_watermark {shown(value)} is not a number or an ISO date/datetime"
            " (e.g. 2024-01-31 or 2024-01-31T12:00:00+00:00)"
        ) from None


def parse_percentage(value: Any) -> float:
    if isinstance(value, bool):
        raise CellError(f"rowcount_tolerance_pct {value} is a boolean, not a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise CellError(f"rowcount_tolerance_pct {shown(value)} is not a number") from None
    if not 0 <= number <= 100:
        raise CellError(f"rowcount_tolerance_pct {shown(value)} is not between 0 and 100")
    return number


@dataclass(frozen=True)
class Column:
    name: str
    required: bool
    parse: Callable[[Any], Any]
    description: str
    example: str = ""
    choices: tuple[str, ...] = ()
    """Allowed values: shown in the template as a dropdown."""


JOB_COLUMNS: tuple[Column, ...] = (
    Column("job_name", True, parse_job_name,
           "Unique name of the job: lowercase letters, digits, underscore.", "sales_orders"),
    Column("enabled", True, parse_enabled, "Y to run the job, N to keep it but skip it.", "Y",
           ("Y", "N")),
    Column("source_type", True, _enum(SourceType, "source_type", upper=False),
           "Kind of source system.", "postgres", tuple(m.value for m in SourceType)),
    Column("connection", True, parse_connection,
           "Name of a connection. Credentials are never in the workbook: they come from"
           " SOURCES__<CONNECTION>__CREDENTIALS or [sources.<connection>] credentials in"
           " .dlt/secrets.toml.", "sales_db"),
    Column("source_schema", False, parse_identifier("source_schema"),
           "Schema of the source table; empty for the connection's default.", "public"),
    Column("source_table", True, parse_identifier("source_table"), "Table or view to read.",
           "orders"),
    Column("target_table", False, parse_lake_name,
           "Folder of the table in the lake; defaults to source_table in lowercase.", "orders"),
    Column("load_type", True, _enum(LoadType, "load_type", upper=True),
           "FULL replaces the table each run; INCREMENTAL loads rows whose watermark_column"
           " is at or after the last value loaded.", "INCREMENTAL", tuple(m.value for m in LoadType)),
    Column("watermark_column", False, parse_identifier("watermark_column"),
           "Column that grows with every insert or update (required for INCREMENTAL).",
           "updated_at"),
    Column("primary_key", False, parse_primary_key,
           "Comma-separated key columns.", "order_id"),
    Column("last_watermark", False, parse_watermark,
           "Initial watermark for the first INCREMENTAL run; afterwards updated by the app for"
           " people to read (the truth is the pipeline state stored in the lake).",
           "2024-01-01T00:00:00+00:00"),
    Column("rowcount_tolerance_pct", False, parse_percentage,
           "Allowed difference, in percent, between the source's row count for the load's window"
           " and the rows landed; beyond it the job is flagged. Default 1.", "1"),
    # schema drift and data quality (README: Schema drift and data quality)
    Column("schema_contract", False, _enum(SchemaContract, "schema_contract", upper=False),
           "How the lake table may change when the source's columns do: evolve (take new columns and"
           " types), freeze (refuse the load), discard_row (leave out rows carrying a new column or"
           " type), discard_value (leave out the new column or the retyped values). Default evolve.",
           "evolve", tuple(m.value for m in SchemaContract)),
    Column("drift_severity", False, _enum(Severity, "drift_severity", upper=False),
           "What a schema change since the last run does: warn (report it) or fail (also mark the"
           " job failed; the data stays in the lake). Default warn.", "warn", tuple(m.value for m in Severity)),
)

COLUMNS_BY_NAME = {c.name: c for c in JOB_COLUMNS}

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

from ingest.core.addresses import AddressError, parse_addresses
from ingest.config.model import CdcDeletes, ChunkSize, FullMode, Lookback, LoadType, SourceType, TableFormat
from ingest.config.rules import SchemaContract, Severity

JOB_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
LAKE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$#]{0,127}$")
"""A plain SQL identifier: nothing that needs quoting, so nothing can be injected. Each
source type narrows it further (IDENTIFIER_RULES)."""
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
    return _matching(label, IDENTIFIER, "is not a plain identifier (letters, digits, _, $ or #, not"
                     " starting with a digit, at most 128 characters)")


@dataclass(frozen=True)
class IdentifierRule:
    """What one kind of source accepts as an unquoted name."""

    pattern: re.Pattern[str]
    rule: str


IDENTIFIER_RULES: dict[SourceType, IdentifierRule] = {
    SourceType.POSTGRES: IdentifierRule(re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,62}$"),
                                        "letters, digits, _ or $, at most 63 characters"),
    SourceType.ORACLE: IdentifierRule(re.compile(r"^[A-Za-z][A-Za-z0-9_$#]{0,127}$"),
                                      "starting with a letter; letters, digits, _, $ or #;"
                                      " at most 128 characters"),
    # SQL Server, Azure SQL and SQLite accept every IDENTIFIER (128 characters, _ $ #).
}
IDENTIFIER_COLUMNS = ("source_schema", "source_table", "watermark_column", "primary_key", "delete_flag_column",
                      "chunk_column")


def dialect_identifier_problems(values: dict[str, Any]) -> list[tuple[str, str]]:
    """(column, message) for each name of a parsed row that its source_type does not accept."""
    source_type = values.get("source_type")
    rule = IDENTIFIER_RULES.get(source_type) if source_type is not None else None
    if rule is None:
        return []
    problems = []
    for column in IDENTIFIER_COLUMNS:
        value = values.get(column)
        names = value if isinstance(value, tuple) else (value,) if value else ()
        bad = [name for name in names if not rule.pattern.match(name)]
        if bad:
            problems.append((column, f"{column} {', '.join(shown(b) for b in bad)} is not a valid"
                             f" {source_type.value} identifier ({rule.rule})"))
    return problems


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
    expected = " or ".join(allowed) if len(allowed) <= 2 else "one of " + ", ".join(allowed)

    def parse(value: Any) -> Any:
        text = _text(value)
        text = text.upper() if upper else text.lower()
        try:
            return enum_type(text)
        except ValueError:
            raise CellError(f"{label} {shown(value)} is not {expected}") from None

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


# --- watermark strategies (issue: watermarks) -----------------------------------------------
FREE_SQL_HINT = ("free SQL is not accepted; name plain columns (filters go in the filters sheet:"
                 " column, operator, value)")


def _column_list(label: str) -> Callable[[Any], tuple[str, ...]]:
    """Comma-separated plain column names; anything else (an expression, SQL) is rejected."""
    check = parse_identifier(label)

    def parse(value: Any) -> tuple[str, ...]:
        parts = [p.strip() for p in _text(value).split(",")]
        if any(not p for p in parts):
            raise CellError(f"{label} {shown(value)} has an empty column name")
        try:
            columns = tuple(check(p) for p in parts)
        except CellError as exc:
            raise CellError(f"{exc}; {FREE_SQL_HINT}") from None
        if len({c.lower() for c in columns}) != len(columns):
            raise CellError(f"{label} {shown(value)} names a column twice")
        return columns

    return parse


_LOOKBACK = re.compile(r"^(\d+(?:\.\d+)?)\s*([a-z]*)$")
_UNIT_NAMES = {"": "units", "unit": "units", "units": "units", "s": "seconds", "second": "seconds",
               "seconds": "seconds", "min": "minutes", "minute": "minutes", "minutes": "minutes",
               "h": "hours", "hour": "hours", "hours": "hours", "d": "days", "day": "days", "days": "days"}


def _yes_no(label: str) -> Callable[[Any], bool]:
    def parse(value: Any) -> bool:
        try:
            return parse_enabled(value)
        except CellError:
            raise CellError(f"{label} {shown(value)} is not Y or N") from None

    return parse


def parse_lookback(value: Any) -> Lookback:
    """`3 days`, `6 hours`, `90 minutes`, `30 seconds`, or a bare number (units of a numeric
    watermark; days for a date one)."""
    if isinstance(value, bool):
        raise CellError(f"lookback {value} is a boolean, not an amount such as 3 days")
    match = _LOOKBACK.match(_text(value).lower())
    unit = _UNIT_NAMES.get(match.group(2)) if match else None
    if match is None or unit is None:
        raise CellError(f"lookback {shown(value)} is not an amount with a unit: e.g. 3 days, 6 hours,"
                        " 90 minutes, 30 seconds, or a bare number for a numeric watermark")
    amount = float(match.group(1))
    if amount <= 0:
        raise CellError(f"lookback {shown(value)} must be greater than 0")
    return Lookback(amount=amount, unit=unit)
# -------------------------------------------------------------------------------------------


# --- chunked loads (README "Chunked loads") ---------------------------------------------------
MAX_CHUNKS = 256
_CHUNK_SIZE = re.compile(r"^(\d[\d_,]*)\s*(chunks?|rows?)$")


def parse_chunk_size(value: Any) -> ChunkSize:
    """`8 chunks` or `5000000 rows`: a number of chunks, or about that many rows per chunk."""
    if isinstance(value, bool):
        raise CellError(f"chunk_size {value} is a boolean, not e.g. 8 chunks or 5000000 rows")
    match = _CHUNK_SIZE.match(_text(value).lower())
    if match is None:
        raise CellError(f"chunk_size {shown(value)} is not a count with a unit: e.g. 8 chunks or"
                        " 5000000 rows")
    amount = int(match.group(1).replace(",", "").replace("_", ""))
    unit = "chunks" if match.group(2).startswith("chunk") else "rows"
    if unit == "chunks" and not 2 <= amount <= MAX_CHUNKS:
        raise CellError(f"chunk_size {shown(value)}: the number of chunks must be 2 to {MAX_CHUNKS}")
    if unit == "rows" and amount < 1000:
        raise CellError(f"chunk_size {shown(value)}: chunks of fewer than 1000 rows cost more than they save")
    return ChunkSize(amount=amount, unit=unit)
# -------------------------------------------------------------------------------------------


def is_number_or_iso_text(text: str) -> bool:
    """A finite decimal number, or an ISO date / datetime (a trailing Z allowed)."""
    try:
        if Decimal(text).is_finite():
            return True
    except InvalidOperation:
        pass
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
        return True
    except ValueError:
        return False


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
    if is_number_or_iso_text(text):
        return text
    raise CellError(
        f"last_watermark {shown(value)} is not a number or an ISO date/datetime"
        " (e.g. 2024-01-31 or 2024-01-31T12:00:00+00:00)"
    )


def parse_watermark_lake(value: Any) -> str:
    """The lake a written-back last_watermark came from (ingest/lake/identity.py), as text."""
    return _text(value)


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


def parse_max_shrink_pct(value: Any) -> float:
    """Percent of a table's rows a FULL load may drop (ingest/checks/shrink.py)."""
    if isinstance(value, bool):
        raise CellError(f"max_shrink_pct {value} is a boolean, not a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise CellError(f"max_shrink_pct {shown(value)} is not a number (0-100)") from None
    if not 0 <= number <= 100:
        raise CellError(f"max_shrink_pct {shown(value)} is not between 0 and 100 (100 allows any drop)")
    return number


def parse_alert_recipients(value: Any) -> tuple[str, ...]:
    """Mail addresses separated by commas or semicolons."""
    try:
        return parse_addresses(_text(value))
    except AddressError as exc:
        raise CellError(f"alert_recipients: {exc}") from None


# orchestration columns: schedule, depends_on, tags --------------------------------------
TAG = re.compile(r"^[a-z][a-z0-9_\-]{0,39}$")


def parse_schedule_cell(value: Any) -> str:
    """Checked here, kept as text (the job spec stays plain JSON); ingest/config/schedule.py."""
    from ingest.config.schedule import ScheduleError, parse_schedule

    try:
        return parse_schedule(_text(value)).text
    except ScheduleError as exc:
        raise CellError(str(exc) if str(exc).startswith("schedule") else f"schedule: {exc}") from None


def _name_list(label: str, item: Callable[[Any], str], noun: str = "entry",
               separators: str = ",;") -> Callable[[Any], tuple[str, ...]]:
    """Names separated by any of `separators`, each checked by `item`, no repeats."""

    def parse(value: Any) -> tuple[str, ...]:
        parts = [p.strip() for p in re.split(f"[{re.escape(separators)}]", _text(value))]
        if any(not p for p in parts):
            raise CellError(f"{label} {shown(value)} has an empty {noun}")
        names = tuple(item(p) for p in parts)
        if len(set(names)) != len(names):
            raise CellError(f"{label} {shown(value)} names {'one entry' if noun == 'entry' else 'a column'} twice")
        return names

    return parse


parse_depends_on = _name_list("depends_on", _matching("depends_on", JOB_NAME, "is not a job name"))
parse_tags = _name_list("tags", _matching("tags", TAG, "is not a tag (lowercase letters, digits, _ or -,"
                                                       " starting with a letter)"))


def parse_column_list(label: str) -> Callable[[Any], tuple[str, ...]]:
    """Comma-separated plain column names, none twice."""
    return _name_list(label, parse_identifier(f"{label} column"), noun="column name", separators=",")


def parse_scd2(value: Any) -> bool:
    try:
        return parse_enabled(value)
    except CellError:
        raise CellError(f"scd2 {shown(value)} is not Y or N") from None


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
           "Kind of source system: postgres, oracle, mssql (SQL Server), azure_sql, rest_api (an HTTP"
           " JSON API in the api_endpoints sheet); sqlite (the embedded demo only, not for production"
           " loads). Oracle runs in thin mode (no Oracle client), SQL Server through ODBC, Azure SQL"
           " encrypted with a SQL login or Entra ID. The fields of a connection's credentials per"
           " kind are listed below.",
           "postgres", tuple(m.value for m in SourceType)),
    Column("connection", False, parse_connection,
           "Name of a connection (required for databases; for rest_api, the name of the API key's"
           " secret when the endpoint needs one). Credentials are never in the workbook: they come"
           " from SOURCES__<CONNECTION>__CREDENTIALS (API keys: SOURCES__<CONNECTION>__API_KEY, and"
           " the hosts the key may go to: SOURCES__<CONNECTION>__ALLOWED_HOSTS) or"
           " .dlt/secrets.toml, as a URL or as the fields listed below.", "sales_db"),
    Column("source_schema", False, parse_identifier("source_schema"),
           "Schema of the source table (the owner for Oracle, e.g. dbo for SQL Server); empty for"
           " the connection's default. Names are matched case-insensitively when the exact"
           " spelling is not found (Oracle stores unquoted names in upper case).", "public"),
    Column("source_table", False, parse_identifier("source_table"),
           "Table or view to read (required for databases; unused for rest_api).", "orders"),
    Column("target_table", False, parse_lake_name,
           "Folder of the table in the lake; defaults to source_table in lowercase (rest_api:"
           " to job_name).", "orders"),
    Column("load_type", True, _enum(LoadType, "load_type", upper=True),
           "FULL replaces the table each run; INCREMENTAL loads rows whose watermark_column"
           " is at or after the last value loaded; CDC (postgres only) reads every insert, update and"
           " delete from the database's log (needs primary_key or REPLICA IDENTITY FULL).", "INCREMENTAL", tuple(m.value for m in LoadType)),
    Column("watermark_column", False, _column_list("watermark_column"),
           "Column that grows with every insert or update (required for INCREMENTAL). Several"
           " columns, comma-separated, make a composite watermark: rows after the last"
           " (first, second, ...) tuple loaded, ties on the first resolved by the next.",
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


    Column("alert_recipients", False, parse_alert_recipients,
           "Optional: mail addresses (comma-separated) that also get a failure mail when this"
           " job fails, one mail per run; the environment's recipients always get one.",
           "sales-team@example.com"),
    # orchestration (README: Schedules, dependencies and re-runs)
    Column("schedule", False, parse_schedule_cell,
           "When the scheduled run loads the job: hourly, hourly at :MM, daily at HH:MM, or a cron"
           " expression (minute hour day month weekday), optionally followed by a time zone such as"
           " Europe/Amsterdam (default UTC). Empty: every run loads it. A missed slot is caught up"
           " once. Manual runs that name the job run it whether due or not.", "daily at 02:00"),
    Column("depends_on", False, parse_depends_on,
           "Comma-separated job names that must succeed first when they run in the same run; if one"
           " fails, this job is skipped (status skipped). No cycles.", "customers"),
    Column("tags", False, parse_tags,
           "Comma-separated labels to select jobs by (python -m ingest run --tags finance).",
           "finance, daily"),

    # --- table formats (README "Parquet or Delta"; row rules in ingest/lake/table_formats.py) ---
    Column("table_format", False, _enum(TableFormat, "table_format", upper=False),
           "parquet (default): files in date folders. delta: a Delta Lake table; INCREMENTAL is"
           " a MERGE on primary_key, FULL overwrites and keeps earlier versions readable.",
           "delta", tuple(m.value for m in TableFormat)),
    Column("full_mode", False, _enum(FullMode, "full_mode", upper=False),
           "parquet FULL only: replace (default) keeps only the newest copy; snapshot keeps one"
           " full copy per day, marked with the column _snapshot_date.", "snapshot",
           tuple(m.value for m in FullMode)),
    Column("scd2", False, parse_scd2,
           "delta only, Y to keep history: a changed row closes its old version (_valid_to) and"
           " adds a new one; needs primary_key.", "N", ("Y", "N")),
    Column("partition_columns", False, parse_column_list("partition_columns"),
           "delta only: comma-separated columns to partition the table by.", "country"),
    Column("partition_date_column", False, parse_identifier("partition_date_column"),
           "delta only: a date or timestamp column of the data; the table is partitioned by its"
           " date (column <name>_date), not by the load time.", "created_at"),
    Column("zorder_columns", False, parse_column_list("zorder_columns"),
           "delta only: columns to Z-order by when the table is maintained.", "customer_id"),
    # --- watermark strategies (issue: watermarks) ---
    Column("lookback", False, parse_lookback,
           "INCREMENTAL: re-read this much before the last watermark every run (3 days, 6 hours;"
           " a bare number for a numeric watermark). Rows already loaded are not loaded again"
           " (needs primary_key).", "2 days"),
    Column("delete_flag_column", False, parse_identifier("delete_flag_column"),
           "A column that marks soft-deleted rows (true, 1, Y, or any value for a deleted_at"
           " date). Such rows land with _ingest_deleted = true.", "is_deleted"),
    Column("detect_deleted_keys", False, _yes_no("detect_deleted_keys"),
           "Y: every run reads all primary keys of the source and writes a delete marker for"
           " each key the lake holds that the source no longer has (table <target>_deleted_keys).",
           "N", ("Y", "N")),
    # ---
    # schema drift and data quality (README: Schema drift and data quality)
    Column("schema_contract", False, _enum(SchemaContract, "schema_contract", upper=False),
           "How the lake table may change when the source's columns do: evolve (take new columns and"
           " types), freeze (refuse the load), discard_row (leave out rows carrying a new column or"
           " type), discard_value (leave out the new column or the retyped values). Default evolve.",
           "evolve", tuple(m.value for m in SchemaContract)),
    Column("drift_severity", False, _enum(Severity, "drift_severity", upper=False),
           "What a schema change since the last run does: warn (report it) or fail (also mark the"
           " job failed; the data stays in the lake). Default warn.", "warn", tuple(m.value for m in Severity)),
    # --- chunked loads (README "Chunked loads"; row rules in ingest/config/chunk_rules.py) ---
    Column("chunk_size", False, parse_chunk_size,
           "SQL sources: load a big table in chunks that run in parallel: 8 chunks, or 5000000 rows"
           " per chunk. Applies to FULL loads, the first INCREMENTAL load, force FULL and backfills;"
           " readers see the old table until every chunk has landed. CDC: its initial snapshot, by the"
           " table's pages.", "8 chunks"),
    Column("chunk_column", False, parse_identifier("chunk_column"),
           "The integer, date or timestamp column the chunks split by; empty: the table's"
           " single-column integer primary key.", "order_id"),
    # ---
    # --- change data capture (README "Change data capture"; row rules in ingest/config/cdc_rules.py) ---
    Column("cdc_deletes", False, _enum(CdcDeletes, "cdc_deletes", upper=False),
           "load_type CDC: what a delete at the source does to a delta table: delete (default)"
           " removes the row; mark keeps it with its last values and _ingest_deleted = true (a"
           " later insert of the key revives it). Parquet keeps every delete in its change log.",
           "mark", tuple(m.value for m in CdcDeletes)),
    # ---
    # --- watermarks know their lake (issue 32; ingest/plan/load_modes.py first_load_start) ---
    Column("watermark_lake", False, parse_watermark_lake,
           "Written by the app beside each last_watermark it writes: the lake (destination and dataset)"
           " the value came from. A value from another lake does not start a lake with no state (the"
           " job loads from the beginning); leave it empty for a last_watermark you type.",
           "file:///data/lake/raw"),
    # --- guards (README "What the app will not do without asking"; ingest/checks/shrink.py) ---
    Column("max_shrink_pct", False, parse_max_shrink_pct,
           "FULL loads: the largest drop, in percent of the lake table's rows, a load may publish;"
           " a bigger one fails the job before anything is published (the lake keeps its rows)."
           " Default 50; 100 allows any drop, emptying included. For one run: run --allow-shrink"
           " <job>.", "50"),
)

COLUMNS_BY_NAME = {c.name: c for c in JOB_COLUMNS}

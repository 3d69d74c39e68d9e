"""The typed configuration model: what one workbook row becomes once it is valid.

Everything here is plain data and JSON-serialisable (`to_dict` / `from_dict`), because job
specs travel as Durable activity inputs.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any

from ingest.config.rules import QualityRule, SchemaContract, Severity


class LoadType(str, Enum):
    FULL = "FULL"
    INCREMENTAL = "INCREMENTAL"
    CDC = "CDC"  # log-based change data capture, postgres only (ingest/sources/postgres_cdc/)


class SourceType(str, Enum):
    POSTGRES = "postgres"
    SQLITE = "sqlite"  # the embedded demo source and small local files
    ORACLE = "oracle"  # python-oracledb in thin mode
    MSSQL = "mssql"  # SQL Server through pyodbc
    AZURE_SQL = "azure_sql"  # Azure SQL Database: encryption enforced, SQL login or Entra ID
    REST_API = "rest_api"

    @property
    def is_sql(self) -> bool:
        return self is not SourceType.REST_API


class TableFormat(str, Enum):
    """How a job's table is stored in the lake (see README "Parquet or Delta")."""

    PARQUET = "parquet"
    DELTA = "delta"


class FullMode(str, Enum):
    """What a FULL load does to the copies of earlier days (parquet)."""

    REPLACE = "replace"  # dlt's replace: only the newest copy stays
    SNAPSHOT = "snapshot"  # one full copy per day is kept, marked with _snapshot_date


class CdcDeletes(str, Enum):
    """What a CDC delete does to a Delta table (README "Change data capture")."""

    DELETE = "delete"  # the row is removed
    MARK = "mark"  # the row stays with its last values and _ingest_deleted = true


class Paginator(str, Enum):
    NONE = "none"
    PAGE_NUMBER = "page_number"
    OFFSET = "offset"
    CURSOR = "cursor"
    JSON_LINK = "json_link"
    HEADER_LINK = "header_link"


class ApiAuth(str, Enum):
    NONE = "none"
    API_KEY_HEADER = "api_key_header"
    API_KEY_QUERY = "api_key_query"
    BEARER = "bearer"


@dataclass(frozen=True)
class ApiEndpoint:
    """One row of the `api_endpoints` sheet: how to page through one REST endpoint."""

    base_url: str
    path: str
    paginator: Paginator = Paginator.NONE
    params: tuple[tuple[str, str], ...] = ()
    data_selector: str | None = None
    page_size: int | None = None
    page_size_param: str | None = None
    page_param: str | None = None
    """page_number: the page's request parameter (default `page`); offset: the offset's."""
    start_page: int | None = None
    cursor_path: str | None = None
    """cursor: where the next cursor is in the response; json_link: where the next URL is."""
    cursor_param: str | None = None
    incremental_param: str | None = None
    """Request parameter that carries the last watermark (e.g. `updated_since`)."""
    auth: ApiAuth = ApiAuth.NONE
    auth_param: str | None = None
    """Header or query parameter name of an API key."""
    row: int = 0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["paginator"] = self.paginator.value
        data["auth"] = self.auth.value
        data["params"] = [list(p) for p in self.params]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ApiEndpoint":
        values = dict(data)
        values["paginator"] = Paginator(values["paginator"])
        values["auth"] = ApiAuth(values["auth"])
        values["params"] = tuple(tuple(p) for p in values.get("params") or ())
        return cls(**values)


WatermarkValue = int | float | str
"""A watermark as written in the workbook: a number, or an ISO date / datetime text."""


# --- watermark strategies (issue: watermarks) ----------------------------------------------
FILTER_OPERATORS = ("=", "!=", "<", "<=", ">", ">=", "in", "not in", "is null", "is not null", "like")
"""The allow-list of a `filters` row's operator; nothing else is ever accepted."""

FilterValue = int | float | str | None


@dataclass(frozen=True)
class FilterRule:
    """One row of the `filters` sheet: `column operator value`, the value bound as a
    parameter (a list for in / not in, nothing for is null / is not null)."""

    column: str
    operator: str
    values: tuple[FilterValue, ...] = ()
    row: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"column": self.column, "operator": self.operator, "values": list(self.values), "row": self.row}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "FilterRule":
        return cls(column=data["column"], operator=data["operator"], values=tuple(data.get("values") or ()),
                   row=data.get("row", 0))


@dataclass(frozen=True)
class Lookback:
    """How far back each run re-reads: `amount` of `unit` (seconds, minutes, hours, days, or
    `units` of a numeric watermark)."""

    amount: float
    unit: str

    UNITS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}

    @property
    def seconds(self) -> float | None:
        factor = self.UNITS.get(self.unit)
        return self.amount * factor if factor else None

    def __str__(self) -> str:
        amount = int(self.amount) if float(self.amount).is_integer() else self.amount
        return f"{amount} {self.unit}"
# -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChunkSize:
    """How a chunked load splits its table (README "Chunked loads"): `amount` chunks, or
    chunks of about `amount` rows."""

    amount: int
    unit: str
    """"chunks" or "rows"."""

    def __str__(self) -> str:
        return f"{self.amount} {self.unit}"


@dataclass(frozen=True)
class JobConfig:
    """One valid row of the `jobs` sheet."""

    job_name: str
    enabled: bool
    source_type: SourceType
    connection: str | None
    source_table: str | None
    load_type: LoadType
    source_schema: str | None = None
    target_table: str | None = None
    watermark_column: str | None = None
    primary_key: tuple[str, ...] = ()
    last_watermark: WatermarkValue | None = None
    watermark_lake: str | None = None
    """The lake the write-back took last_watermark from (None: a person typed it): a value from
    another lake does not start this one (ingest/plan/load_modes.py first_load_start)."""
    rowcount_tolerance_pct: float | None = None
    """Allowed difference between source and lake row counts; default 1%."""
    max_shrink_pct: float | None = None
    """The largest drop (percent of the lake table's rows) a FULL load may publish; default 50
    (ingest/checks/shrink.py)."""
    api: ApiEndpoint | None = None
    """For rest_api jobs: the job's row of the `api_endpoints` sheet."""
    alert_recipients: tuple[str, ...] = ()
    """Extra recipients of the failure mail when this job fails."""
    # orchestration: when the job is due, what it waits for, how callers select it
    schedule: str | None = None
    """`hourly`, `daily at HH:MM` or a cron expression, optional time zone (ingest/config/schedule.py);
    None: the job runs every time."""
    depends_on: tuple[str, ...] = ()
    """Jobs that must succeed first when they are in the same run (ingest/config/dependencies.py)."""
    tags: tuple[str, ...] = ()
    """Labels a run can select the job by (`--tags`)."""
    # --- table formats (ingest/lake/table_formats.py) ---
    table_format: TableFormat = TableFormat.PARQUET
    full_mode: FullMode = FullMode.REPLACE
    scd2: bool = False
    """delta: keep every version of a row with validity columns (ingest/lake/scd2.py)."""
    partition_columns: tuple[str, ...] = ()
    partition_date_column: str | None = None
    """delta: partition by the date of this column of the data (adds `<column>_date`)."""
    zorder_columns: tuple[str, ...] = ()
    # --- end table formats ---
    # --- watermark strategies (issue: watermarks) ---
    watermark_tiebreak: tuple[str, ...] = ()
    """Further watermark columns after watermark_column: rows are read in (watermark_column,
    *watermark_tiebreak) order, after the last tuple loaded (ingest/sources/composite.py)."""
    lookback: Lookback | None = None
    """Re-read this much before the last watermark each run (ingest/sources/lookback.py)."""
    filters: tuple[FilterRule, ...] = ()
    """Rows of the `filters` sheet for this job, all AND-ed (ingest/sources/filters.py)."""
    delete_flag_column: str | None = None
    """A source column marking soft-deleted rows: they land with _ingest_deleted = true."""
    detect_deleted_keys: bool = False
    """Compare a full key snapshot with the lake each run; missing keys land as delete markers."""
    # ---
    # --- chunked loads (README "Chunked loads"; ingest/drivers/chunks/) ---
    chunk_column: str | None = None
    """The column a chunked load splits by; None: the source's single-column integer key."""
    chunk_size: ChunkSize | None = None
    """Set: FULL loads, a first INCREMENTAL load, force FULL and backfills load in chunks."""
    # ---
    cdc_deletes: CdcDeletes = CdcDeletes.DELETE
    """load_type CDC on delta: `mark` keeps a deleted row with `_ingest_deleted = true`."""
    row: int = 0
    """Workbook row the job came from (for messages and write-back)."""
    # schema drift and data quality (ingest/checks/)
    schema_contract: SchemaContract = SchemaContract.EVOLVE
    drift_severity: Severity = Severity.WARN
    quality_rules: tuple[QualityRule, ...] = ()
    """Rows of the `quality_rules` sheet for this job."""

    @property
    def table_name(self) -> str:
        """The table's name in the lake: its folder under the dataset."""
        if self.target_table:
            return self.target_table
        return self.source_table.lower() if self.source_table else self.job_name

    @property
    def is_incremental(self) -> bool:
        return self.load_type is LoadType.INCREMENTAL

    @property
    def is_cdc(self) -> bool:
        return self.load_type is LoadType.CDC

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["source_type"] = self.source_type.value
        data["load_type"] = self.load_type.value
        data["primary_key"] = list(self.primary_key)
        data["api"] = self.api.to_dict() if self.api else None
        data["alert_recipients"] = list(self.alert_recipients)
        data["depends_on"], data["tags"] = list(self.depends_on), list(self.tags)
        data["table_format"] = self.table_format.value
        data["full_mode"] = self.full_mode.value
        data["cdc_deletes"] = self.cdc_deletes.value
        data["partition_columns"] = list(self.partition_columns)
        data["zorder_columns"] = list(self.zorder_columns)
        data["watermark_tiebreak"] = list(self.watermark_tiebreak)
        data["lookback"] = {"amount": self.lookback.amount, "unit": self.lookback.unit} if self.lookback else None
        data["filters"] = [f.to_dict() for f in self.filters]
        data["chunk_size"] = asdict(self.chunk_size) if self.chunk_size else None
        data["schema_contract"] = self.schema_contract.value
        data["drift_severity"] = self.drift_severity.value
        data["quality_rules"] = [r.to_dict() for r in self.quality_rules]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "JobConfig":
        values = dict(data)
        values["source_type"] = SourceType(values["source_type"])
        values["load_type"] = LoadType(values["load_type"])
        values["primary_key"] = tuple(values.get("primary_key") or ())
        values["api"] = ApiEndpoint.from_dict(values["api"]) if values.get("api") else None
        values["alert_recipients"] = tuple(values.get("alert_recipients") or ())
        values["depends_on"] = tuple(values.get("depends_on") or ())
        values["tags"] = tuple(values.get("tags") or ())
        values["table_format"] = TableFormat(values.get("table_format") or TableFormat.PARQUET.value)
        values["full_mode"] = FullMode(values.get("full_mode") or FullMode.REPLACE.value)
        values["cdc_deletes"] = CdcDeletes(values.get("cdc_deletes") or CdcDeletes.DELETE.value)
        values["partition_columns"] = tuple(values.get("partition_columns") or ())
        values["zorder_columns"] = tuple(values.get("zorder_columns") or ())
        values["watermark_tiebreak"] = tuple(values.get("watermark_tiebreak") or ())
        values["lookback"] = Lookback(**values["lookback"]) if values.get("lookback") else None
        values["filters"] = tuple(FilterRule.from_dict(f) for f in values.get("filters") or ())
        values["chunk_size"] = ChunkSize(**values["chunk_size"]) if values.get("chunk_size") else None
        values["schema_contract"] = SchemaContract(values.get("schema_contract") or "evolve")
        values["drift_severity"] = Severity(values.get("drift_severity") or "warn")
        values["quality_rules"] = tuple(QualityRule.from_dict(r) for r in values.get("quality_rules") or ())
        return cls(**values)


@dataclass(frozen=True)
class ConfigIssue:
    """A problem found in the workbook, with its place (`jobs!G7`)."""

    sheet: str
    cell: str
    message: str
    severity: str = "error"  # "error" | "warning"
    job_name: str | None = None

    @property
    def row(self) -> int | None:
        """The row number of the cell, if the issue is about one row."""
        match = re.fullmatch(r"[A-Z]{1,3}(\d+)", self.cell)
        return int(match.group(1)) if match else None

    @property
    def place(self) -> str:
        return f"{self.sheet}!{self.cell}" if self.cell else self.sheet

    def __str__(self) -> str:
        return f"{self.place}: {self.message}"


@dataclass
class WorkbookConfig:
    """The whole workbook: valid jobs, and every issue found on the way."""

    source: str
    jobs: list[JobConfig] = field(default_factory=list)
    issues: list[ConfigIssue] = field(default_factory=list)
    invalid_rows: dict[int, str | None] = field(default_factory=dict)
    """Row number -> job name (if readable) of rows that were rejected."""

    @property
    def errors(self) -> list[ConfigIssue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[ConfigIssue]:
        return [i for i in self.issues if i.severity == "warning"]

    @property
    def is_valid(self) -> bool:
        return not self.errors

    def job(self, name: str) -> JobConfig:
        for job in self.jobs:
            if job.job_name == name:
                return job
        raise KeyError(name)

"""Build a dlt `sql_table` resource for one job: reflection checks, watermark typing,
incremental, backend per dialect."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

import dlt
import sqlalchemy as sa
from dlt.sources.sql_database import sql_table
from sqlalchemy.engine import URL, Engine

from ingest.config.model import JobConfig, WatermarkValue
from ingest.errors import ConfigError, SourceObjectNotFoundError
from ingest.sources.exact_types import ExactTypesConnectorXLoader, integer_width_hints

# Backend per dialect. connectorx streams arrow batches straight from PostgreSQL's binary
# protocol (3x pyarrow's speed, see bench/full_load.py) and ExactTypesConnectorXLoader casts
# them to the reflected types. SQLite's loose typing suits the pyarrow backend, which builds
# arrow tables from DB-API rows with the reflected types.
BACKEND_BY_DIALECT = {"postgresql": "connectorx", "sqlite": "pyarrow"}


@dataclass
class ReflectedTable:
    columns: dict[str, sa.types.TypeEngine]


def make_engine(url: URL) -> Engine:
    connect_args: dict[str, Any] = {}
    if url.get_backend_name() == "postgresql":
        connect_args = {"connect_timeout": 15, "application_name": "ingest"}
    return sa.create_engine(url, connect_args=connect_args, pool_pre_ping=True)


def reflect_table(engine: Engine, job: JobConfig) -> ReflectedTable:
    """Check that the table and every column the job names exist; return the column types."""
    inspector = sa.inspect(engine)
    where = f"{job.source_schema}.{job.source_table}" if job.source_schema else job.source_table
    if not (inspector.has_table(job.source_table, schema=job.source_schema)
            or job.source_table in inspector.get_view_names(schema=job.source_schema)):
        raise SourceObjectNotFoundError(f"job '{job.job_name}': table {where} does not exist"
                                        f" in connection '{job.connection}'")
    columns = {c["name"]: c["type"] for c in inspector.get_columns(job.source_table, schema=job.source_schema)}
    named = [("watermark_column", job.watermark_column)] if job.watermark_column else []
    named += [("primary_key", key) for key in job.primary_key]
    for label, column in named:
        if column not in columns:
            raise SourceObjectNotFoundError(
                f"job '{job.job_name}': {label} '{column}' is not a column of {where}"
                f" (columns: {', '.join(columns)})")
    return ReflectedTable(columns=columns)


def coerce_watermark(value: WatermarkValue | None, column_type: sa.types.TypeEngine, job: JobConfig) -> Any:
    """Turn the workbook's watermark into the column's Python type so dlt can compare it."""
    if value is None:
        return None
    try:
        if isinstance(column_type, sa.DateTime):
            parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            if column_type.timezone:
                return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
            return parsed.astimezone(timezone.utc).replace(tzinfo=None) if parsed.tzinfo else parsed
        if isinstance(column_type, sa.Date):
            return date.fromisoformat(str(value)[:10])
        if isinstance(column_type, sa.Integer):
            return int(value)
        if isinstance(column_type, (sa.Numeric,)) and not isinstance(column_type, sa.Float):
            return Decimal(str(value))
        if isinstance(column_type, sa.Float):
            return float(value)
        if isinstance(column_type, (sa.String,)):
            return str(value)
    except (TypeError, ValueError, ArithmeticError):
        raise ConfigError(f"jobs!row {job.row}: last_watermark {value!r} does not fit column"
                          f" '{job.watermark_column}' of type {column_type}") from None
    return value


def build_resource(job: JobConfig, engine: Engine, reflected: ReflectedTable,
                   chunk_size: int, backend: str | None = None) -> Any:
    """The dlt resource that reads this job's table."""
    backend = backend or BACKEND_BY_DIALECT.get(engine.dialect.name, "pyarrow")
    incremental = None
    write_disposition = "replace"
    if job.is_incremental:
        write_disposition = "append"
        column_type = reflected.columns[job.watermark_column]
        incremental = dlt.sources.incremental(
            job.watermark_column,
            initial_value=coerce_watermark(job.last_watermark, column_type, job),
            # rows without a watermark cannot be tracked: load them with every run is worse
            on_cursor_value_missing="exclude",
        )
    resource = sql_table(
        credentials=engine,
        table_loader_class=ExactTypesConnectorXLoader if backend == "connectorx" else None,
        table=job.source_table,
        schema=job.source_schema,
        backend=backend,
        chunk_size=chunk_size,
        reflection_level="full_with_precision",
        incremental=incremental,
        write_disposition=write_disposition,
        primary_key=list(job.primary_key) or None,
    )
    resource.apply_hints(table_name=job.table_name, columns=integer_width_hints(reflected.columns))
    return resource

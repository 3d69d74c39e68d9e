"""The OpenLineage input dataset of a job (ingest/records/lineage/): the source table or API
endpoint, named after the OpenLineage conventions from the connection's parsed host, port and
database (`postgres://db.example.com:5432` + `sales.public.orders`), never from its text: no
user, password, key or query parameter can reach an event."""

from __future__ import annotations

from pathlib import Path

from ingest.config.model import JobConfig, SourceType
from ingest.records.lineage.naming import DatasetName, api_dataset, sql_dataset
from ingest.sources.connections import resolve_connection

SCHEMES = {SourceType.POSTGRES: "postgres", SourceType.MSSQL: "mssql", SourceType.AZURE_SQL: "mssql",
           SourceType.ORACLE: "oracle"}
DEFAULT_SCHEMAS = {SourceType.POSTGRES: "public", SourceType.MSSQL: "dbo", SourceType.AZURE_SQL: "dbo"}
"""The schema a table without `source_schema` is read from (Oracle's is the login's: left out)."""


def source_dataset(job: JobConfig) -> DatasetName | None:
    """The job's input dataset (a CDC job's is its table, read through the log)."""
    if job.source_type is SourceType.REST_API:
        return api_dataset(job.api.base_url, job.api.path) if job.api else None
    if not job.source_table:
        return None
    url = resolve_connection(job).url  # secrets in it are registered for redaction here
    if job.source_type is SourceType.SQLITE:
        return DatasetName(f"sqlite://{Path(str(url.database)).resolve()}", job.source_table)
    database = url.database or url.query.get("service_name") or None
    schema = job.source_schema or DEFAULT_SCHEMAS.get(job.source_type)
    host = url.host or job.connection  # an odbc_connect URL keeps its host inside: name the connection
    return sql_dataset(SCHEMES[job.source_type], host, url.port, str(database) if database else None,
                       schema, job.source_table)

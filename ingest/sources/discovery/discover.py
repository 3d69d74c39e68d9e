"""`python -m ingest discover`: a connection's catalog -> proposed job rows -> the workbook.

The connection is opened as a run opens it (credentials from dlt's providers, never the
workbook; ingest/sources/connections.py). Tables the workbook already reads (same connection,
schema and table, ignoring case; an empty schema is the connection's default) are left alone,
so a second discover adds nothing. The new rows are checked by the workbook's own validation
before anything is written; --dry-run reports the same and writes nothing."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

from sqlalchemy.engine import make_url

from ingest.config.model import ConfigIssue, SourceType
from ingest.config.workbook import JOBS_SHEET, read_workbook
from ingest.config.writeback import replace_file
from ingest.config.workbook_merge import (MergeOutcome, NewRow, append_rows, read_jobs_sheet,
                                          source_key, workbook_bytes)
from ingest.core.classify import classify
from ingest.core.errors import ConfigError, ConnectionConfigError
from ingest.sources.connections import build_connection
from ingest.sources.credential_source import find_credentials
from ingest.sources.discovery.catalog import Catalog, read_catalog
from ingest.sources.discovery.proposals import NameBook, Proposal, propose

_BY_BACKEND = {"postgresql": SourceType.POSTGRES, "postgres": SourceType.POSTGRES, "sqlite": SourceType.SQLITE,
               "oracle": SourceType.ORACLE, "mssql": SourceType.MSSQL}


@dataclass(frozen=True)
class DiscoverRequest:
    connection: str
    config: Path
    schemas: tuple[str | None, ...] = (None,)
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    enable: bool = False
    dry_run: bool = False
    source_type: SourceType | None = None


@dataclass
class DiscoverReport:
    request: DiscoverRequest
    source_type: SourceType
    served_by: str
    proposals: list[Proposal] = field(default_factory=list)
    present: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    outcome: MergeOutcome = field(default_factory=MergeOutcome)
    issues: list[ConfigIssue] = field(default_factory=list)
    """Validation issues of the new rows (none expected; shown if any)."""


def infer_source_type(connection: str, raw: Any) -> SourceType:
    """The source type a connection's URL (or its `drivername` field) names; SQL Server URLs
    are `mssql` (give --source-type azure_sql for Azure SQL)."""
    if isinstance(raw, Mapping):
        text = str(raw.get("drivername") or "")
    elif isinstance(raw, str) and not raw.lstrip().startswith("{"):
        text = raw
    else:
        text = ""
    try:
        backend = make_url(text).get_backend_name() if "://" in text else text.split("+")[0]
    except Exception:  # never echo the credentials
        backend = ""
    if backend not in _BY_BACKEND:
        raise ConnectionConfigError(f"connection '{connection}': its source type cannot be told from its credentials;"
                                    " give --source-type (postgres, sqlite, oracle, mssql, azure_sql)")
    return _BY_BACKEND[backend]


def discover(request: DiscoverRequest) -> DiscoverReport:
    found = find_credentials(request.connection)
    source_type = request.source_type or infer_source_type(request.connection, found.value)
    if not source_type.is_sql:
        raise ConfigError("discover reads SQL catalogs; REST APIs (discover --api) are not supported")
    report = DiscoverReport(request, source_type, found.served_by)
    catalogs = _read_catalogs(request, source_type, found.value)
    data = workbook_bytes(request.config)
    label = str(request.config)
    sheet = read_jobs_sheet(data, label)
    names = NameBook(sheet.names_in_use())
    for catalog in catalogs:
        report.notes += catalog.notes
        existing = sheet.sources(catalog.default_schema)
        fresh = []
        for table in catalog.tables:
            row = existing.get(source_key(request.connection, table.schema, table.name, catalog.default_schema))
            if row is None:
                fresh.append(table)
            else:
                report.present.append(f"{table.where}: already in {JOBS_SHEET} row {row}")
        proposals = propose(replace(catalog, tables=fresh), request.connection, source_type, request.enable, names)
        report.proposals += proposals.rows
        report.refused += proposals.refused
    rows = [NewRow(p.values, "\n".join(p.warnings)) for p in report.proposals]
    new_data, report.outcome = append_rows(data, label, rows)
    added_rows = {number for number, _ in report.outcome.added}
    report.issues = [i for i in read_workbook(new_data, label=label).issues if i.row in added_rows]
    if report.outcome.added and not request.dry_run and not report.issues:  # rows that fail validation: none written
        replace_file(request.config, new_data)
        report.outcome.written = True
    return report


def _read_catalogs(request: DiscoverRequest, source_type: SourceType, raw: Any) -> list[Catalog]:
    from ingest.sources.sql import make_engine

    engine = make_engine(build_connection(request.connection, source_type, raw))
    try:
        return [read_catalog(engine, schema, request.include, request.exclude) for schema in request.schemas]
    except ConfigError:
        raise
    except Exception as exc:  # refused login, unreachable host, unknown schema: one clean line
        error = classify(exc)
        raise type(error)(f"connection '{request.connection}': {error}") from None
    finally:
        engine.dispose()


def format_report(report: DiscoverReport) -> list[str]:
    request = report.request
    lines = [f"discover {request.connection} ({report.source_type.value}; credentials from {report.served_by})"
             f" into {request.config}{' (dry run: nothing written)' if request.dry_run else ''}"]
    rows = dict((name, number) for number, name in report.outcome.added)
    for proposal in report.proposals:
        v = proposal.values
        how = f"INCREMENTAL on {v['watermark_column']}" if v["watermark_column"] else "FULL"
        size = f", ~{proposal.table.row_estimate:,} rows" if proposal.table.row_estimate else ""
        kind = " (view)" if proposal.table.is_view else ""
        lines.append(f"  + {JOBS_SHEET} row {rows.get(proposal.job_name)}: {proposal.job_name} <- {proposal.table.where}"
                     f"{kind}: {how}, key {v['primary_key'] or '(none)'}{size}")
        lines += [f"      warning: {w}" for w in proposal.warnings]
    lines += [f"  = {p}" for p in report.present]
    lines += [f"  x {r}" for r in report.refused]
    lines += [f"  note: {n}" for n in report.notes]
    lines += [f"  ERROR in a new row: {i}" for i in report.issues]
    if report.issues and not request.dry_run:
        lines.append("  nothing written: a proposed row does not validate")
    if report.outcome.added_columns:
        lines.append(f"  header: column(s) added: {', '.join(report.outcome.added_columns)}")
    verb = "would add" if request.dry_run or report.issues else "added"
    state = "enabled = Y" if request.enable else "enabled = N: set Y on the rows to load, after `check`"
    added = f"{verb} {len(report.proposals)} row(s) ({state})" if report.proposals else "nothing new"
    lines.append(f"{added}; {len(report.present)} table(s) already in the workbook; {len(report.refused)} not proposed")
    return lines

"""A discovered table -> the job row discover proposes for it.

- job_name: the table's name as dlt would name it, trimmed to a valid job name; when that is
  taken (a job already in the workbook, another proposal, or the same name in dlt's
  normalised form) the schema goes in front, then a number after.
- primary_key: the table's own key (views have none).
- load_type INCREMENTAL with watermark_column when a column is a good watermark: not null, a
  timestamp whose name says it changes with updates (updated_at, modified, last_changed, ...)
  or an integer named as a row version or change sequence (a SQL Server rowversion gets a
  warning: it lands as bytes, see ROWVERSION_NOTE); on
  PostgreSQL its pg_stats.correlation must also say it moves with the rows written (an
  updated row is written at the end of the table, so such a column follows the physical
  order). Otherwise FULL, with a warning when the table is large.
- warnings: columns whose type will not land as it is (type_notes.py), a missing key, a
  rejected watermark candidate and why.

A table whose name needs quoting (a space, a dash) cannot be a job: the workbook takes plain
identifiers only (nothing in it is ever pasted into SQL); it is reported, not proposed."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable

import sqlalchemy as sa
from sqlalchemy.dialects import mssql

from ingest.config.columns import IDENTIFIER, IDENTIFIER_RULES, JOB_NAME
from ingest.config.dlt_names import dlt_name
from ingest.config.model import LoadType, SourceType
from ingest.sources.discovery.catalog import Catalog, CatalogColumn, CatalogTable
from ingest.sources.discovery.type_notes import type_note
from ingest.sources.postgres_types import Read, plan_column

LARGE_TABLE_ROWS = 1_000_000
"""A FULL table this large (by its statistics) is worth a watermark: it gets a warning."""
MIN_CORRELATION = 0.5
"""pg_stats.correlation below this: the column does not follow the order rows are written in."""
MAX_NAME = 63

_UPDATE_NAME = re.compile(
    r"^(updated|modified|changed|last_?(updated?|modified|changed?|modification)|"
    r"(updated?|modified|modification|changed?|mod|upd)_?(at|on|date|time|ts|datetime|timestamp|dt|tm)|"
    r"(date|time|dt|ts)_?(updated|modified|changed|last_?modified)|lastupdate|lastmodified|lastchanged|"
    r"(sys|row|record|rec)_?(updated?|modified|changed?)_?(at|on|date|time|ts)?)$")
_VERSION_NAME = re.compile(r"^(row_?version|rowver|version_?(no|number)?|change_?(seq|sequence|number|no|id)|"
                           r"(seq|sequence)_?(no|number)?|lsn|txn_?id)$")


@dataclass(frozen=True)
class Proposal:
    table: CatalogTable
    values: dict[str, str | None]
    """jobs sheet column -> cell value, as the template's columns name them."""
    warnings: tuple[str, ...] = ()

    @property
    def job_name(self) -> str:
        return str(self.values["job_name"])


@dataclass
class Proposals:
    rows: list[Proposal] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    """Tables that cannot be a job, each with why."""


class NameBook:
    """The names in use: job names and lake tables, compared as dlt compares them."""

    def __init__(self, names: Iterable[str] = ()) -> None:
        self._lower: set[str] = set()
        self._dlt: set[str] = set()
        for name in names:
            self.take(name)

    def taken(self, name: str) -> bool:
        return name.lower() in self._lower or dlt_name(name) in self._dlt

    def take(self, name: str) -> None:
        if name.strip():
            self._lower.add(name.strip().lower())
            self._dlt.add(dlt_name(name))


def plain_name(name: str, source_type: SourceType) -> bool:
    """Whether the workbook can name it (a plain identifier of this source type)."""
    rule = IDENTIFIER_RULES.get(source_type)
    return bool(IDENTIFIER.match(name)) and (rule is None or bool(rule.pattern.match(name)))


def _as_job_name(text: str) -> str:
    name = re.sub(r"[^a-z0-9]+", "_", dlt_name(text).lower()).strip("_")
    if not name or not name[0].isalpha():
        name = f"t_{name}".rstrip("_")
    return name[:MAX_NAME].rstrip("_")


def job_name_for(table: CatalogTable, names: NameBook) -> str:
    """The first free name of: the table's, schema_table's, then either with _2, _3 ..."""
    bases = [_as_job_name(table.name)]
    if table.schema:
        bases.append(_as_job_name(f"{table.schema}_{table.name}"))
    for base in bases:
        if not names.taken(base) and JOB_NAME.match(base):
            return base
    number = 2
    while True:
        suffix = f"_{number}"
        candidate = bases[-1][: MAX_NAME - len(suffix)].rstrip("_") + suffix
        if not names.taken(candidate):
            return candidate
        number += 1


ROWVERSION_NOTE = ("rowversion {column} changes with every write but lands as 8 bytes, which no watermark"
                   " tracks yet: read the table through a view with CONVERT(bigint, {column}) and make the job"
                   " INCREMENTAL on that column")


def _name_rank(column: CatalogColumn) -> int | None:
    """Lower is better; None: not a watermark candidate."""
    name = column.name.lower()
    if column.nullable:
        return None
    if isinstance(column.type, sa.DateTime) and _UPDATE_NAME.match(name):
        return 0 if name in ("updated_at", "modified_at", "last_modified", "last_updated") else 2
    if isinstance(column.type, sa.Integer) and _VERSION_NAME.match(name):
        return 3
    return None


def _lands_ordered(column: CatalogColumn) -> bool:
    """A column that lands as text cannot be a watermark (the load refuses it)."""
    return column.pg is None or plan_column(column.pg).read is not Read.TEXT


def choose_watermark(table: CatalogTable, source_type: SourceType) -> tuple[str | None, list[str]]:
    """The watermark column, if any is good, and warnings about the candidates turned down."""
    warnings: list[str] = [ROWVERSION_NOTE.format(column=column.name) for column in table.columns
                           if isinstance(column.type, mssql.TIMESTAMP)]
    ranked = sorted((rank, index, column) for index, column in enumerate(table.columns)
                    if (rank := _name_rank(column)) is not None)
    for _rank, _index, column in ranked:
        if not plain_name(column.name, source_type) or not _lands_ordered(column):
            warnings.append(f"watermark candidate {column.name} cannot be named in the workbook or lands as text")
            continue
        if column.correlation is not None and column.correlation < MIN_CORRELATION:
            warnings.append(f"watermark candidate {column.name} does not follow the order rows are written in"
                            f" (pg_stats correlation {column.correlation:.2f}); check that every insert and"
                            " update sets it, then make the job INCREMENTAL by hand")
            continue
        if column.pg is not None and column.correlation is None and table.row_estimate is None:
            warnings.append(f"watermark {column.name} chosen by its name and type only: the table has no"
                            " statistics yet (ANALYZE it and run discover on a copy to see its correlation)")
        return column.name, warnings
    return None, warnings


def propose_table(table: CatalogTable, catalog: Catalog, connection: str, source_type: SourceType,
                  enabled: bool, names: NameBook) -> Proposal:
    job_name = job_name_for(table, names)
    warnings: list[str] = []
    key = table.primary_key
    if key and not all(plain_name(c, source_type) for c in key):
        warnings.append(f"primary key ({', '.join(key)}) has a column the workbook cannot name; primary_key left empty")
        key = ()
    watermark, watermark_warnings = choose_watermark(table, source_type)
    warnings += watermark_warnings
    if not key:
        warnings.append("no primary key" + (": an updated row lands again as a new row" if watermark else
                                            ": lookback, deleted-key detection and delta MERGE need one"))
    if watermark is None and (table.row_estimate or 0) >= LARGE_TABLE_ROWS:
        warnings.append(f"about {table.row_estimate:,} rows and no watermark column: FULL reads all of them every run")
    warnings += [note for column in table.columns if (note := type_note(column, catalog.dialect))]
    values: dict[str, str | None] = {
        "job_name": job_name, "enabled": "Y" if enabled else "N", "source_type": source_type.value,
        "connection": connection, "source_schema": table.schema, "source_table": table.name,
        "target_table": job_name if job_name != table.name.lower() else None,
        "load_type": (LoadType.INCREMENTAL if watermark else LoadType.FULL).value,
        "watermark_column": watermark, "primary_key": ", ".join(key) or None}
    names.take(job_name)
    return Proposal(table, values, tuple(warnings))


def propose(catalog: Catalog, connection: str, source_type: SourceType, enabled: bool,
            names: NameBook) -> Proposals:
    """A proposal for each table of the catalog (in name order); `names` holds the names in
    use and takes each proposed one."""
    out = Proposals()
    for table in catalog.tables:
        bad = [part for part in (table.schema, table.name) if part and not plain_name(part, source_type)]
        if bad:
            out.refused.append(f"{table.where}: {bad[0]!r} needs quoting, and the workbook takes plain names only"
                               " (letters, digits, _); create a view with a plain name over it")
            continue
        out.rows.append(propose_table(table, catalog, connection, source_type, enabled, names))
    return out

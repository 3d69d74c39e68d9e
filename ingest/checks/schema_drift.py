"""Schema drift: a snapshot of the table's columns per load, compared with the previous load's,
and a history of every snapshot in the lake.

The snapshot is the table as the source delivered it in this load, in dlt's column schema
(data_type, nullable, precision, scale, timezone): the resource's columns as dlt's sql_table
reflection gives them, with the type dlt's schema recorded after the load for any column the
reflection could not type. It is not dlt's stored table schema alone because that schema never
forgets a column (a column dropped at the source stays in it and is written as all-NULL), and a
discarding schema contract keeps changes out of it; both are reported separately (`discarded`).

History: one JSON line per load in `{dataset}/_ingest_schema_history/{job_name}.jsonl`, next to
the data, so the local runner, the Durable activities and a fresh machine all read the same
history; JSON lines because each entry is nested (a list of columns), a person can read it,
and DuckDB (`read_json_auto`) or pandas query it as a table. The file is rewritten whole under
the job's lock (one writer per job), written to a temporary name first then moved into place;
an entry per run (a re-delivered Durable activity replaces its run's entry).
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Mapping

from ingest.config.rules import SchemaContract, Severity

log = logging.getLogger("ingest.checks.schema_drift")

HISTORY_FOLDER = "_ingest_schema_history"
TYPE_PROPS = ("data_type", "precision", "scale", "timezone")


@dataclass(frozen=True)
class ColumnSnapshot:
    name: str
    data_type: str | None = None
    nullable: bool | None = None
    precision: int | None = None
    scale: int | None = None
    timezone: bool | None = None

    @property
    def type_text(self) -> str:
        """`decimal(12,2)`, `bigint(32)`, `timestamp(tz)`, `text`, or `unknown`."""
        text = self.data_type or "unknown"
        if self.data_type == "decimal" and self.precision is not None:
            text += f"({self.precision},{self.scale or 0})"
        elif self.precision is not None:
            text += f"({self.precision})"
        if self.data_type in ("timestamp", "time") and self.timezone is not None:
            text += "(tz)" if self.timezone else "(naive)"
        return text

    def same_type(self, other: "ColumnSnapshot") -> bool:
        """Equal types; a column dlt could not type (None) is not a change."""
        if self.data_type is None or other.data_type is None:
            return True
        return all(getattr(self, p) == getattr(other, p) for p in TYPE_PROPS)

    @classmethod
    def from_dlt(cls, name: str, column: Mapping[str, Any]) -> "ColumnSnapshot":
        return cls(name=name, data_type=column.get("data_type"), nullable=column.get("nullable"),
                   precision=column.get("precision"), scale=column.get("scale"), timezone=column.get("timezone"))


def is_dlt_column(name: str) -> bool:
    return name.startswith("_dlt_")


def snapshot(columns: Mapping[str, Mapping[str, Any]], normalize=lambda n: n) -> list[ColumnSnapshot]:
    """Columns (dlt column schemas, in order) as a snapshot, names as the lake has them."""
    return [ColumnSnapshot.from_dlt(normalize(name), column) for name, column in columns.items()
            if not is_dlt_column(normalize(name))]


def fill_unknown_types(columns: list[ColumnSnapshot], lake: Mapping[str, Mapping[str, Any]]) -> list[ColumnSnapshot]:
    """Types dlt inferred from the data for columns its reflection left untyped."""
    filled = []
    for column in columns:
        known = lake.get(column.name)
        if column.data_type is None and known and known.get("data_type"):
            column = ColumnSnapshot.from_dlt(column.name, {**known, "nullable": column.nullable})
        filled.append(column)
    return filled


@dataclass
class DriftReport:
    """One job's schema check: JSON-serialisable (it rides in JobResult.drift)."""

    status: str
    """baseline (no earlier snapshot) | unchanged | changed | error"""
    severity: str = Severity.WARN.value
    contract: str = SchemaContract.EVOLVE.value
    columns: int = 0
    added: list[dict[str, Any]] = field(default_factory=list)
    removed: list[dict[str, Any]] = field(default_factory=list)
    retyped: list[dict[str, Any]] = field(default_factory=list)
    nullability: list[dict[str, Any]] = field(default_factory=list)
    discarded: list[dict[str, Any]] = field(default_factory=list)
    """Source columns or types the schema contract kept out of the lake (discard_* policies)."""
    previous_run_id: str | None = None
    history_path: str | None = None
    """The history file, relative to the lake."""
    message: str = ""

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed or self.retyped or self.nullability)

    def changes_text(self) -> str:
        parts = [f"column added: {c['name']} ({c['type']})" for c in self.added]
        parts += [f"column removed: {c['name']} ({c['type']})" for c in self.removed]
        parts += [f"column retyped: {c['name']} {c['from']} -> {c['to']}" for c in self.retyped]
        parts += [f"nullability changed: {c['name']} {c['from']} -> {c['to']}" for c in self.nullability]
        parts += [f"not loaded ({self.contract}): {c['name']}: {c['reason']}" for c in self.discarded]
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _null_text(nullable: bool | None) -> str:
    return "unknown" if nullable is None else ("NULL" if nullable else "NOT NULL")


def compare(previous: list[ColumnSnapshot] | None, current: list[ColumnSnapshot], severity: Severity,
            contract: SchemaContract, previous_run_id: str | None = None) -> DriftReport:
    """The changes from `previous` (None: no earlier load) to `current`."""
    report = DriftReport(status="baseline", severity=severity.value, contract=contract.value,
                         columns=len(current), previous_run_id=previous_run_id)
    if previous is None:
        return report
    before = {c.name: c for c in previous}
    after = {c.name: c for c in current}
    report.added = [{"name": c.name, "type": c.type_text} for c in current if c.name not in before]
    report.removed = [{"name": c.name, "type": c.type_text} for c in previous if c.name not in after]
    for column in current:
        old = before.get(column.name)
        if old is None:
            continue
        if not old.same_type(column):
            report.retyped.append({"name": column.name, "from": old.type_text, "to": column.type_text})
        if None not in (old.nullable, column.nullable) and old.nullable != column.nullable:
            report.nullability.append({"name": column.name, "from": _null_text(old.nullable),
                                       "to": _null_text(column.nullable)})
    report.status = "changed" if report.changed else "unchanged"
    return report


def discarded_by_contract(current: list[ColumnSnapshot], lake: Mapping[str, Mapping[str, Any]],
                          contract: SchemaContract) -> list[dict[str, Any]]:
    """Source columns (or their new types) that a discarding contract kept out of the lake."""
    if contract not in (SchemaContract.DISCARD_ROW, SchemaContract.DISCARD_VALUE):
        return []
    what = ("rows with a value in it were not loaded" if contract is SchemaContract.DISCARD_ROW
            else "its values were not loaded")
    found = []
    for column in current:
        known = lake.get(column.name)
        if known is None:
            found.append({"name": column.name, "reason": f"new column ({column.type_text}): {what}"})
        elif not ColumnSnapshot.from_dlt(column.name, known).same_type(column):
            lake_type = ColumnSnapshot.from_dlt(column.name, known).type_text
            found.append({"name": column.name, "reason": f"type {column.type_text} differs from the lake's"
                                                         f" {lake_type}: {what}"})
    return found


def history_path(dataset: str, job_name: str) -> str:
    return f"{dataset}/{HISTORY_FOLDER}/{job_name}.jsonl"


@dataclass
class SchemaHistory:
    """The job's history file through an fsspec filesystem (local folder or az://)."""

    fs: Any
    path: str

    def entries(self) -> list[dict[str, Any]]:
        if not self.fs.exists(self.path):
            return []
        entries = []
        for number, line in enumerate(self.fs.cat_file(self.path).decode("utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                entries.append(json.loads(line))
            except json.JSONDecodeError:
                log.warning("schema history %s: line %d is not JSON; skipped", self.path, number)
        return entries

    def last(self, before_run: str | None = None) -> dict[str, Any] | None:
        """The newest entry of another run than `before_run` (a re-delivered load of the same
        run compares with the run before, like the first delivery did)."""
        entries = [e for e in self.entries() if before_run is None or e.get("run_id") != before_run]
        return entries[-1] if entries else None

    def append(self, entry: dict[str, Any]) -> None:
        """Add the entry, replacing one of the same run (idempotent for a re-delivered load)."""
        kept = [e for e in self.entries() if e.get("run_id") != entry.get("run_id")]
        data = "".join(json.dumps(e, default=str, separators=(",", ":")) + "\n" for e in kept + [entry])
        data = data.encode("utf-8")
        folder = self.path.rsplit("/", 1)[0]
        self.fs.makedirs(folder, exist_ok=True)
        temporary = f"{self.path}.tmp"
        self.fs.pipe_file(temporary, data)
        self.fs.mv(temporary, self.path)


def columns_of(entry: Mapping[str, Any] | None) -> list[ColumnSnapshot] | None:
    if entry is None:
        return None
    return [ColumnSnapshot(**c) for c in entry.get("columns", [])]


def history_entry(report: DriftReport, columns: Iterable[ColumnSnapshot], *, job_name: str, table: str,
                  run_id: str, load_id: str | None, recorded_at: str) -> dict[str, Any]:
    return {"job_name": job_name, "table": table, "run_id": run_id, "load_id": load_id,
            "recorded_at": recorded_at, "status": report.status, "contract": report.contract,
            "columns": [asdict(c) for c in columns],
            "changes": {"added": report.added, "removed": report.removed, "retyped": report.retyped,
                        "nullability": report.nullability},
            "discarded": report.discarded}

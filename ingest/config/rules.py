"""Data-quality rules and the per-job schema policies: plain data, JSON-serialisable, because
they travel inside job specs (Durable activity inputs)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any


class Severity(str, Enum):
    """What a failed check does: `warn` reports it, `fail` also marks the job failed (the
    data stays in the lake, flagged in the audit)."""

    WARN = "warn"
    FAIL = "fail"


class SchemaContract(str, Enum):
    """How the lake table may evolve when the source's columns change: dlt's schema-contract
    modes, applied to new columns and to type changes of existing ones (see
    ingest/checks/contract.py for exactly what each does here)."""

    EVOLVE = "evolve"
    FREEZE = "freeze"
    DISCARD_ROW = "discard_row"
    DISCARD_VALUE = "discard_value"


class RuleKind(str, Enum):
    NOT_NULL = "not_null"
    MAX_NULL_PCT = "max_null_pct"
    UNIQUE = "unique"
    REGEX = "regex"
    FORMAT = "format"
    MIN = "min"
    MAX = "max"
    ALLOWED_VALUES = "allowed_values"
    MIN_ROWS = "min_rows"


NAMED_FORMATS = ("email", "date", "uuid")
"""Values of the `format` rule's argument (patterns in ingest/checks/quality.py)."""


@dataclass(frozen=True)
class QualityRule:
    """One valid row of the `quality_rules` sheet."""

    job_name: str
    rule: RuleKind
    columns: tuple[str, ...] = ()
    """One column; several (a key) for `unique`; none for `min_rows`."""
    argument: str | None = None
    """The rule's argument as validated text (threshold, pattern, format, bound, value list)."""
    severity: Severity = Severity.WARN
    place: str = ""
    """The rule's cell (`quality_rules!C4`), shown with every result and error."""
    column_place: str = ""
    """The column's cell, for errors about the column (`quality_rules!B4`)."""

    @property
    def column_text(self) -> str:
        return ",".join(self.columns)

    def to_dict(self) -> dict[str, Any]:
        return {"job_name": self.job_name, "rule": self.rule.value, "columns": list(self.columns),
                "argument": self.argument, "severity": self.severity.value, "place": self.place,
                "column_place": self.column_place}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "QualityRule":
        return cls(job_name=data["job_name"], rule=RuleKind(data["rule"]), columns=tuple(data.get("columns") or ()),
                   argument=data.get("argument"), severity=Severity(data.get("severity") or "warn"),
                   place=data.get("place") or "", column_place=data.get("column_place") or "")

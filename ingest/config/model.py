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


class SourceType(str, Enum):
    POSTGRES = "postgres"
    SQLITE = "sqlite"  # the embedded demo source and small local files


WatermarkValue = int | float | str
"""A watermark as written in the workbook: a number, or an ISO date / datetime text."""


@dataclass(frozen=True)
class JobConfig:
    """One valid row of the `jobs` sheet."""

    job_name: str
    enabled: bool
    source_type: SourceType
    connection: str
    source_table: str
    load_type: LoadType
    source_schema: str | None = None
    target_table: str | None = None
    watermark_column: str | None = None
    primary_key: tuple[str, ...] = ()
    last_watermark: WatermarkValue | None = None
    rowcount_tolerance_pct: float | None = None
    """Allowed difference between source and lake row counts; default 1%."""
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
        return self.target_table or self.source_table.lower()

    @property
    def is_incremental(self) -> bool:
        return self.load_type is LoadType.INCREMENTAL

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["source_type"] = self.source_type.value
        data["load_type"] = self.load_type.value
        data["primary_key"] = list(self.primary_key)
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

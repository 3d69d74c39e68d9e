"""The facets of a job's events, built from its JobResult with the client's facet classes:
schema as landed, output statistics, data quality assertions, the watermark window (a facet
of our own, IngestWatermarkRunFacet, schema in docs/lineage/IngestWatermarkRunFacet.json) and
the error of a failed load (redacted). Imported only when lineage is on."""

from __future__ import annotations

from typing import Any

import attr
from openlineage.client.facet_v2 import (
    RunFacet,
    data_quality_assertions_dataset,
    error_message_run,
    output_statistics_output_dataset,
    schema_dataset,
)

from ingest.core.redact import redact
from ingest.core.result import JobResult

WATERMARK_FACET = "ingestWatermark"
PRODUCER = "tag:ingest,2025:producer"
"""The `producer` of every event and facet (a tag URI, RFC 4151: this app has no public home page)."""
WATERMARK_SCHEMA_URL = "tag:ingest,2025:facets/IngestWatermarkRunFacet/1-0-0.json#/$defs/IngestWatermarkRunFacet"
"""The facet's own schema: docs/lineage/IngestWatermarkRunFacet.json, whose `$id` is this URI
(OpenLineage asks every custom facet to name its schema; bump 1-0-0 when the facet changes)."""


@attr.define
class IngestWatermarkRunFacet(RunFacet):
    """The source window a load read: the watermark column(s) and the values before and after."""

    loadType: str  # noqa: N815 (OpenLineage's camelCase)
    watermarkColumn: str | None = attr.field(default=None)  # noqa: N815
    before: str | None = attr.field(default=None)
    after: str | None = attr.field(default=None)
    mode: str | None = attr.field(default=None)
    """`force_full` or `backfill [start, end)` when the run asked for one; None for a normal load."""

    @staticmethod
    def _get_schema() -> str:
        return WATERMARK_SCHEMA_URL


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def watermark_facet(load_type: str, column: str | None, result: JobResult | None,
                    mode: str | None) -> IngestWatermarkRunFacet:
    return IngestWatermarkRunFacet(loadType=load_type, watermarkColumn=column,
                                   before=_text(result.watermark_before) if result else None,
                                   after=_text(result.watermark_after) if result else None, mode=mode)


def schema_facet(columns: list[tuple[str, str]]) -> schema_dataset.SchemaDatasetFacet:
    fields = [schema_dataset.SchemaDatasetFacetFields(name=name, type=data_type) for name, data_type in columns]
    return schema_dataset.SchemaDatasetFacet(fields=fields)


def statistics_facet(result: JobResult) -> output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet:
    return output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
        rowCount=result.rows_processed, fileCount=len(result.files) or None)


def error_facet(result: JobResult) -> error_message_run.ErrorMessageRunFacet:
    """The failure as the JobResult says it, redacted again (a message can quote a URL)."""
    message = redact(f"{result.error_class or 'Error'}: {result.error_message or ''}")
    return error_message_run.ErrorMessageRunFacet(message=message, programmingLanguage="python")


def assertions_facet(result: JobResult) -> data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet | None:
    """Each quality rule, the row-count check and the value check that ran (a skipped check is
    no assertion). Observed counts only, never a value of the data."""
    assertions = [_rule_assertion(rule) for rule in result.quality if rule.get("status") in ("passed", "failed")]
    assertions += [a for a in (_rowcount_assertion(result.rowcount), _values_assertion(result.values)) if a]
    if not assertions:
        return None
    return data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet(assertions=assertions)


def _rule_assertion(rule: dict[str, Any]) -> data_quality_assertions_dataset.Assertion:
    return data_quality_assertions_dataset.Assertion(
        assertion=str(rule["rule"]), success=rule["status"] == "passed", column=rule.get("column") or None,
        severity=rule.get("severity"), name=rule.get("place"), expected=_text(rule.get("argument")),
        actual=_text(rule.get("observed")))


def _rowcount_assertion(check: dict[str, Any] | None) -> data_quality_assertions_dataset.Assertion | None:
    if not check or check.get("status") not in ("ok", "mismatch"):
        return None
    low, high = check.get("source_min"), check.get("source_max")
    expected = (f"{low}" if low == high else f"{low}..{high}") if low is not None else "rows dlt counted"
    return data_quality_assertions_dataset.Assertion(
        assertion="row_count", success=check["status"] == "ok", severity="warn", name="row_count",
        description="rows landed in the lake against the source's count for the load's window",
        expected=f"{expected} (±{check.get('tolerance_pct')}%)", actual=_text(check.get("landed_rows")))


def _values_assertion(check: dict[str, Any] | None) -> data_quality_assertions_dataset.Assertion | None:
    if not check or check.get("status") not in ("ok", "mismatch"):
        return None
    return data_quality_assertions_dataset.Assertion(
        assertion="value_check", success=check["status"] == "ok", severity="error", name="value_check",
        description="each column's non-null count and range in the lake against the source's",
        expected=f"{check.get('columns_checked', 0)} column(s) equal",
        actual=f"{len(check.get('mismatches') or [])} column(s) differ")

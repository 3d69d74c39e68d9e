"""A job load's OpenLineage events, sent from where both drivers pass: ingest/load.py's
run_job calls `JobLineage.started` before the load and `finished` with its JobResult, in the
job's own process (local runner) or activity (Durable). With lineage off both return at once."""

from __future__ import annotations

import logging
import os
import threading
from typing import Any, Callable

import dlt

from ingest.checks.schema_drift import snapshot
from ingest.config.model import JobConfig
from ingest.core.result import JobResult, JobStatus, RunContext
from ingest.core.settings import Settings
from ingest.lake.destination import working_dir
from ingest.lake.table_formats import dlt_table_name
from ingest.records.lineage import naming
from ingest.records.lineage.emitter import Emitter, enabled

log = logging.getLogger("ingest.lineage")

SourceName = Callable[[], "naming.DatasetName | None"]
_emitters: dict[tuple[int, Settings], Emitter] = {}
_emitters_lock = threading.Lock()


def emitter_for(settings: Settings) -> Emitter:
    """One emitter per process and settings (a forked job process gets its own: an HTTP
    session must not be shared across a fork)."""
    key = (os.getpid(), settings)
    with _emitters_lock:
        if key not in _emitters:
            _emitters[key] = Emitter(settings)
        return _emitters[key]


def preload(settings: Settings) -> None:
    """Import the OpenLineage client now, when lineage is on: a runner that forks job processes
    calls this first, so each child inherits it instead of importing it again (~0.3 s each)."""
    if enabled(settings):
        from ingest.records.lineage import events  # noqa: F401


def run_mode(run: RunContext) -> str | None:
    if run.backfill:
        return f"backfill [{run.backfill.get('start')}, {run.backfill.get('end')})"
    return "force_full" if run.force_full else None


class JobLineage:
    """START and COMPLETE / FAIL / ABORT of one job in one run. `source` names the job's input
    dataset (ingest/sources/lineage_names.py: from the parsed connection, never a credential);
    `pipeline_name` is the job's dlt pipeline, whose schema says what landed."""

    def __init__(self, job: JobConfig, run: RunContext, settings: Settings, source: SourceName,
                 pipeline_name: str) -> None:
        self.job, self.run, self.settings = job, run, settings
        self.on = enabled(settings)
        self._source_name = source
        self._pipeline_name = pipeline_name
        self._source: naming.DatasetName | None = None
        self.failures = 0

    def started(self) -> None:
        if not self.on:
            return
        self._source = self._input()
        self._send(lambda events: events.job_event(events.RunState.START, self._parts(None)))

    def finished(self, result: JobResult) -> None:
        """The end event; the number of events not sent goes into `result.lineage_failures`."""
        if self.on:
            self._send(lambda events: events.job_event(_state(events, result), self._parts(result),
                                                       result.finished_at))
        result.lineage_failures += self.failures

    def _send(self, build: Callable[[Any], Any]) -> None:
        try:
            from ingest.records.lineage import events

            sent = emitter_for(self.settings).emit(build(events))
        except Exception as exc:  # building the event failed: still never the load's failure
            log.warning("lineage event of job %s not built: %s", self.job.job_name, type(exc).__name__)
            sent = False
        self.failures += 0 if sent else 1

    def _input(self) -> naming.DatasetName | None:
        try:
            return self._source_name()
        except Exception as exc:  # no credentials yet, say: the load reports that itself
            log.info("lineage: job %s has no input dataset name (%s)", self.job.job_name, type(exc).__name__)
            return None

    def _parts(self, result: JobResult | None) -> Any:
        from ingest.records.lineage import events, facets

        parts = events.JobEventParts(
            namespace=self.settings.lineage_namespace, job_name=self.job.job_name,
            run_id=naming.job_run_id(self.run.run_id, self.job.job_name),
            parent_run_id=naming.parent_run_id(self.run.run_id), source=self._source,
            output=naming.lake_dataset(self.settings, self.job.table_name), connection=self.job.connection)
        columns = ",".join((self.job.watermark_column, *self.job.watermark_tiebreak)) if self.job.watermark_column else None
        parts.run_facets[facets.WATERMARK_FACET] = facets.watermark_facet(
            self.job.load_type.value, columns, result, run_mode(self.run))
        if result is None:
            return parts
        if result.status is JobStatus.FAILED:
            parts.run_facets["errorMessage"] = facets.error_facet(result)
        if result.succeeded or result.rows_processed:
            parts.output_statistics = facets.statistics_facet(result)
        landed = self._landed_columns()
        if landed:
            parts.output_facets["schema"] = facets.schema_facet(landed)
        assertions = facets.assertions_facet(result)
        if assertions is not None:
            parts.output_facets["dataQualityAssertions"] = assertions
        return parts

    def _landed_columns(self) -> list[tuple[str, str]]:
        """The lake table's data columns and types from dlt's stored schema (what landed)."""
        try:
            pipeline = dlt.attach(pipeline_name=self._pipeline_name, pipelines_dir=str(working_dir(self.settings)))
            schema = pipeline.default_schema
            for table in (self.job.table_name, dlt_table_name(self.job)):
                if table in schema.tables:
                    return [(c.name, c.type_text) for c in snapshot(schema.get_table_columns(table))]
        except Exception as exc:  # no pipeline (the job failed before dlt ran): no schema facet
            log.debug("lineage: no landed schema for job %s (%s)", self.job.job_name, type(exc).__name__)
        return []


def _state(events: Any, result: JobResult) -> Any:
    if result.succeeded:
        return events.RunState.COMPLETE
    return events.RunState.ABORT if result.status is JobStatus.SKIPPED else events.RunState.FAIL

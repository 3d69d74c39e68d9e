"""OpenLineage RunEvents of a run and its jobs, built with the client's classes (so every
event has the spec's required fields and each facet its `_producer` and `_schemaURL`).
Imported only when lineage is on."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState, set_producer
from openlineage.client.facet_v2 import datasource_dataset, job_type_job, parent_run

from ingest.records.lineage.facets import PRODUCER
from ingest.records.lineage.naming import RUN_JOB_NAME, DatasetName

set_producer(PRODUCER)  # the client's default names itself as the producer


@dataclass
class JobEventParts:
    """What one event of a job says, gathered by jobs.py."""

    namespace: str
    job_name: str
    run_id: str
    parent_run_id: str
    source: DatasetName | None
    output: DatasetName
    connection: str | None = None
    run_facets: dict[str, Any] = field(default_factory=dict)
    output_facets: dict[str, Any] = field(default_factory=dict)
    output_statistics: Any = None


def now() -> str:
    return datetime.now(timezone.utc).isoformat()


def _job(namespace: str, name: str, job_type: str) -> Job:
    return Job(namespace=namespace, name=name, facets={
        "jobType": job_type_job.JobTypeJobFacet(processingType="BATCH", integration="INGEST", jobType=job_type)})


def _parent(parts: JobEventParts) -> parent_run.ParentRunFacet:
    return parent_run.ParentRunFacet(
        run=parent_run.Run(runId=parts.parent_run_id),
        job=parent_run.Job(namespace=parts.namespace, name=RUN_JOB_NAME))


def job_event(state: RunState, parts: JobEventParts, event_time: str | None = None) -> RunEvent:
    """A job's START, COMPLETE, FAIL or ABORT: the source as input, the lake table as output."""
    inputs = []
    if parts.source is not None:
        facets = ({"dataSource": datasource_dataset.DatasourceDatasetFacet(
            name=parts.connection, uri=f"{parts.source.namespace}")} if parts.connection else {})
        inputs.append(InputDataset(namespace=parts.source.namespace, name=parts.source.name, facets=facets))
    output_facets = {"outputStatistics": parts.output_statistics} if parts.output_statistics else {}
    output = OutputDataset(namespace=parts.output.namespace, name=parts.output.name,
                           facets=dict(parts.output_facets), outputFacets=output_facets)
    run = Run(runId=parts.run_id, facets={"parent": _parent(parts), **parts.run_facets})
    return RunEvent(eventType=state, eventTime=event_time or now(), run=run,
                    job=_job(parts.namespace, parts.job_name, "JOB"), inputs=inputs, outputs=[output])


def run_event(state: RunState, namespace: str, run_id: str, event_time: str,
              run_facets: dict[str, Any] | None = None) -> RunEvent:
    """The parent run's START, COMPLETE or FAIL: no datasets of its own (its jobs have them)."""
    return RunEvent(eventType=state, eventTime=event_time, run=Run(runId=run_id, facets=dict(run_facets or {})),
                    job=_job(namespace, RUN_JOB_NAME, "DAG"), inputs=[], outputs=[])

"""Check serialised OpenLineage events the way the spec would, through the client's own attrs
classes (openlineage-python ships no JSON schema files, and this machine cannot fetch them):
each event is rebuilt from its JSON with the client's event and facet classes (their
validators: eventTime is ISO date-time, runId a UUID), every facet must carry `_producer` and
the `_schemaURL` its class names, unknown fields or facets fail, and the rebuilt event must
serialise back to exactly the JSON read. The custom watermark facet is checked against its
own schema file, docs/lineage/IngestWatermarkRunFacet.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import (
    data_quality_assertions_dataset,
    datasource_dataset,
    error_message_run,
    job_type_job,
    output_statistics_output_dataset,
    parent_run,
    schema_dataset,
)
from openlineage.client.serde import Serde

from ingest.records.lineage.facets import IngestWatermarkRunFacet

REPO = Path(__file__).resolve().parents[1]
WATERMARK_SCHEMA = json.loads((REPO / "docs/lineage/IngestWatermarkRunFacet.json").read_text())


def _parent(d: dict) -> Any:
    return parent_run.ParentRunFacet(run=parent_run.Run(**d.pop("run")), job=parent_run.Job(**d.pop("job")), **d)


def _schema(d: dict) -> Any:
    return schema_dataset.SchemaDatasetFacet(
        fields=[schema_dataset.SchemaDatasetFacetFields(**f) for f in d.pop("fields")], **d)


def _assertions(d: dict) -> Any:
    return data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet(
        assertions=[data_quality_assertions_dataset.Assertion(**a) for a in d.pop("assertions")], **d)


def _watermark(d: dict) -> Any:
    spec = WATERMARK_SCHEMA["$defs"]["IngestWatermarkRunFacet"]["allOf"][1]
    assert set(spec["required"]) <= set(d), d
    assert set(d) <= set(spec["properties"]), f"fields outside the facet's schema: {set(d) - set(spec['properties'])}"
    assert all(isinstance(v, str) for v in d.values()), d
    return IngestWatermarkRunFacet(**d)


RUN_FACETS = {"parent": _parent, "errorMessage": lambda d: error_message_run.ErrorMessageRunFacet(**d),
              "ingestWatermark": _watermark}
JOB_FACETS = {"jobType": lambda d: job_type_job.JobTypeJobFacet(**d)}
DATASET_FACETS = {"schema": _schema, "dataQualityAssertions": _assertions,
                  "dataSource": lambda d: datasource_dataset.DatasourceDatasetFacet(**d)}
OUTPUT_FACETS = {"outputStatistics": lambda d: output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(**d)}


def _facets(raw: dict[str, Any] | None, builders: dict[str, Any]) -> dict[str, Any]:
    built = {}
    for key, value in (raw or {}).items():
        assert key in builders, f"unexpected facet {key!r}"
        fields = dict(value)
        producer, schema_url = fields.pop("_producer"), fields.pop("_schemaURL")
        assert producer, f"facet {key} has no _producer"
        facet = builders[key](fields)
        facet._producer = producer
        assert facet._schemaURL == schema_url, f"facet {key}: _schemaURL {schema_url} is not its class's"
        built[key] = facet
    return built


def _dataset(cls: Any, raw: dict[str, Any]) -> Any:
    extra = {"inputFacets": {}} if cls is InputDataset else {"outputFacets": _facets(raw.get("outputFacets"), OUTPUT_FACETS)}
    return cls(namespace=raw["namespace"], name=raw["name"], facets=_facets(raw.get("facets"), DATASET_FACETS), **extra)


def validate(line: str) -> dict[str, Any]:
    """The event as a dict, after checking it as the module docstring says."""
    raw = json.loads(line)
    for required in ("eventTime", "producer", "schemaURL", "run", "job", "eventType"):
        assert raw.get(required), f"event without {required}: {line[:200]}"
    event = RunEvent(eventType=RunState(raw["eventType"]), eventTime=raw["eventTime"],
                     run=Run(runId=raw["run"]["runId"], facets=_facets(raw["run"].get("facets"), RUN_FACETS)),
                     job=Job(namespace=raw["job"]["namespace"], name=raw["job"]["name"],
                             facets=_facets(raw["job"].get("facets"), JOB_FACETS)),
                     inputs=[_dataset(InputDataset, d) for d in raw.get("inputs", [])],
                     outputs=[_dataset(OutputDataset, d) for d in raw.get("outputs", [])],
                     producer=raw["producer"])
    assert event.schemaURL == raw["schemaURL"], raw["schemaURL"]
    assert json.loads(Serde.to_json(event)) == raw, "the event does not round-trip through the client's classes"
    return raw


def read_events(path: Path) -> list[dict[str, Any]]:
    return [validate(line) for line in path.read_text().splitlines() if line.strip()]

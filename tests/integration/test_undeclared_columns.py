"""A source whose resource declares no columns (as a REST endpoint's: dlt infers the schema
from the data) still gets schema drift and quality checks, through a real dlt pipeline into a
local lake. The snapshot is then dlt's inferred schema: additions and type changes show,
removals cannot (dlt's schema keeps every column it has seen), and a value of another type
arrives as dlt's variant column (`price__v_text`), an added column."""

from __future__ import annotations

import dlt

from ingest.checks import post_load
from ingest.config.model import JobConfig, LoadType, SourceType
from ingest.config.rules import QualityRule, RuleKind, Severity
from ingest.lake.destination import make_destination
from ingest.load import _landed_files
from ingest.plan.planner import new_run_context
from ingest.core.result import JobResult, JobStatus

JOB = JobConfig(job_name="prices", enabled=True, source_type=SourceType.SQLITE, connection="api",
                source_table="prices", load_type=LoadType.FULL, quality_rules=(
                    QualityRule("prices", RuleKind.NOT_NULL, ("price",), None, Severity.WARN, "quality_rules!C2"),))


def load(settings, rows: list[dict]) -> JobResult:
    run = new_run_context()
    result = JobResult(job_name=JOB.job_name, status=JobStatus.FAILED, run_id=run.run_id)
    pipeline = dlt.pipeline(pipeline_name="ingest_prices", pipelines_dir=str(settings.pipelines_dir),
                            destination=make_destination(settings, current_datetime=run.partition_datetime),
                            dataset_name=settings.dataset)
    resource = dlt.resource(rows, name="prices", write_disposition="replace")
    columns = post_load.before_load(JOB, pipeline, resource, run, result)
    assert columns == [] and result.drift is None  # nothing declared: nothing to compare before the load
    info = pipeline.run(resource, loader_file_format="parquet")
    result.load_id = info.loads_ids[-1]
    result.files = _landed_files(info, "prices", settings, run)
    post_load.after_load(JOB, pipeline, columns, run, result)
    return result


def test_drift_and_rules_on_a_resource_without_declared_columns(settings):
    first = load(settings, [{"coin": "btc", "price": 1.5}, {"coin": "eth", "price": None}])
    assert first.drift["status"] == "baseline" and first.drift["columns"] == 2  # _dlt_ columns left out
    assert [(r["status"], r["observed"]) for r in first.quality] == [("failed", 1)]
    second = load(settings, [{"coin": "btc", "price": "n/a", "volume": 7}])
    # dlt puts a value of another type in a variant column: it shows as a column added
    assert second.drift["added"] == [{"name": "price__v_text", "type": "text"}, {"name": "volume", "type": "bigint"}]
    assert second.drift["status"] == "changed" and second.drift["removed"] == []

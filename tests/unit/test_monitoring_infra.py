"""infra/monitoring: the alert rules parse as Bicep (pycep-parser), point at the Application
Insights component, and their KQL reads the values out of the very messages ingest.alerts.telemetry
writes (the fallback when the dimensions arrive only as text)."""

from __future__ import annotations

import re
from pathlib import Path

from pycep import BicepParser

from ingest.alerts.telemetry import _pairs, job_dimensions, run_dimensions

BICEP = Path(__file__).resolve().parents[2] / "infra" / "monitoring" / "ingest_alerts.bicep"


def parsed() -> dict:
    return BicepParser(cache=False).parse(file_path=BICEP)


def test_the_alert_rules_parse_and_target_app_insights():
    bicep = parsed()
    resources = bicep["resources"]
    assert resources["appInsights"]["type"] == "Microsoft.Insights/components" and resources["appInsights"]["existing"]
    for name in ("failedJobs", "noRun"):
        rule = resources[name]
        assert rule["type"] == "Microsoft.Insights/scheduledQueryRules"
        props = rule["config"]["properties"]
        assert props["enabled"] is True and props["scopes"][0]["operator"]["operands"]["operand_1"] == "appInsights"
        (criterion,) = props["criteria"]["allOf"]
        assert criterion["metricMeasureColumn"] in ("failed_runs", "runs")
    failed = resources["failedJobs"]["config"]["properties"]["criteria"]["allOf"][0]
    assert (failed["operator"], failed["threshold"]) == ("GreaterThan", 0)
    assert [d["name"] for d in failed["dimensions"]] == ["job_name", "error_class"]
    assert "status in (\"failed\", \"invalid\")" in bicep["variables"]["failedJobsTail"]["value"]
    assert set(bicep["parameters"]) >= {"appInsightsName", "actionGroupId", "environment"}


def test_the_queries_read_the_dimensions_out_of_real_telemetry_messages():
    variables = parsed()["variables"]
    queries = variables["jobEvents"]["value"] + variables["runEvents"]["value"]
    patterns = dict(re.findall(r'extend (\w+) = coalesce\(tostring\(customDimensions\.\1\), extract\(@"(.+?)", 1, message\)',
                               queries))
    assert set(patterns) == {"run_id", "job_name", "status", "error_class"}
    job = job_dimensions({"job_name": "sales_orders", "status": "failed", "rows_processed": 0, "duration_s": 2.5,
                          "error_class": "SourceAuthenticationError", "attempts": 1,
                          "error_message": "status=ok is not what happened", "rowcount": {"status": "skipped"}},
                         "20260105T020000Z-ingest-all")
    message = f"ingest.job {_pairs(job)}"
    assert message.startswith("ingest.job ")  # what `startswith "ingest.job "` selects
    for name, pattern in patterns.items():
        assert re.search(pattern, message).group(1) == job[name], (name, message)
    run = run_dimensions({"run_id": "20260105T020000Z-ingest-all", "failed": 0, "total": 3, "succeeded": 3,
                          "started_at": "2026-01-05T02:00:00+00:00", "finished_at": "2026-01-05T02:03:00+00:00"})
    run_message = f"ingest.run {_pairs(run)}"
    assert re.search(patterns["run_id"], run_message).group(1) == "20260105T020000Z-ingest-all"

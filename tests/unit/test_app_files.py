"""The app's files agree with the code: every setting is documented, host.json and the ADF
pipeline are well formed and read the fields the app returns."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.docs_pages import docs_page

REPO = Path(__file__).resolve().parents[2]


def settings_read_by_code() -> set[str]:
    source = (REPO / "ingest" / "core" / "settings.py").read_text()
    return set(re.findall(r'"(INGEST_[A-Z_]+)"', source))


def test_every_setting_is_in_local_settings_example_and_the_settings_page():
    names = settings_read_by_code()
    assert len(names) >= 10
    example = json.loads((REPO / "local.settings.json.example").read_text())["Values"]
    table = docs_page("settings").split("# Settings", 1)[1].split("\n## ", 1)[0]  # docs/settings.md's table
    assert names - set(example) == set()
    assert {n for n in names if f"| `{n}` |" not in table} == set()
    assert "INGEST_SCHEDULE" in example and "`INGEST_SCHEDULE`" in table


def test_host_json_has_bundle_hub_and_timeout():
    host = json.loads((REPO / "host.json").read_text())
    assert host["extensionBundle"]["version"].startswith("[4.")
    assert host["extensions"]["durableTask"]["hubName"] == "IngestHub"
    assert host["functionTimeout"] and "Request" in host["logging"]["applicationInsights"]["samplingSettings"]["excludedTypes"]


def test_adf_pipeline_polls_the_status_url_and_fails_on_failed_jobs():
    pipeline = json.loads((REPO / "infra" / "adf" / "ingest_pipeline.json").read_text())
    text = json.dumps(pipeline)
    activities = {a["name"]: a for a in pipeline["properties"]["activities"]}
    assert activities["StartRun"]["typeProperties"]["method"] == "POST"
    assert activities["WaitForRun"]["type"] == "Until"
    assert "statusQueryGetUri" not in text and "webhooks/durabletask" not in text  # no system key in ADF
    assert activities["WaitForRun"]["typeProperties"]["activities"][1]["type"] == "AzureFunctionActivity"
    assert "output.runtime_status" in text and "output.summary.failed" in text
    assert activities["FailWhenRunFailed"]["typeProperties"]["ifTrueActivities"][0]["type"] == "Fail"

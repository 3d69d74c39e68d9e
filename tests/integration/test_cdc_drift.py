"""load_type CDC and schema drift on a real PostgreSQL (wal_level=logical): a column added at
the source reaches the lake through the log's relation message, and the existing schema drift
check records it (the job's drift report, its history file, the run summary's findings)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingest.checks.schema_drift import history_path
from ingest.drivers.finalize import finalize_run
from ingest.plan.planner import Plan
from tests.cdc_helpers import cdc_job, load, run_context, sql


@pytest.fixture
def drift_source(postgres, monkeypatch):
    schema, connection = "cdcdrift", "cdc_drift"
    monkeypatch.setenv(f"SOURCES__{connection.upper()}__CREDENTIALS", postgres.url())
    sql(postgres, f"DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema};"
                  f" CREATE TABLE {schema}.t (id int PRIMARY KEY, v int); INSERT INTO {schema}.t VALUES (1, 1)")
    yield schema, connection
    sql(postgres, f"SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots"
                  f" WHERE slot_name = 'ingest_cdc_{connection}'; DROP PUBLICATION IF EXISTS ingest_cdc_{connection}")


@pytest.mark.parametrize("fmt", ["delta", "parquet"])
def test_a_column_added_at_the_source_is_recorded_as_drift(postgres, settings, drift_source, fmt):
    schema, connection = drift_source
    job = cdc_job("t", connection, schema, "t", fmt)
    first = load([job], settings)["t"]
    assert first.succeeded, first.error_message
    assert first.drift["status"] == "baseline" and first.drift["columns"] == 2

    quiet = load([job], settings, 2)["t"]  # nothing changed: the catalog's columns, unchanged
    assert quiet.succeeded and quiet.drift["status"] == "unchanged"

    sql(postgres, f"ALTER TABLE {schema}.t ADD COLUMN label text; INSERT INTO {schema}.t VALUES (2, 2, 'two')")
    changed = load([job], settings, 3)["t"]
    assert changed.succeeded, changed.error_message
    assert changed.drift["status"] == "changed"
    assert [(c["name"], c["type"]) for c in changed.drift["added"]] == [("label", "text")]
    history = Path(settings.destination) / history_path(settings.dataset, "t")
    entries = [json.loads(line) for line in history.read_text().splitlines()]
    assert [e["run_id"] for e in entries] == ["cdc-run-1", "cdc-run-2", "cdc-run-3"]
    assert [c["name"] for c in entries[-1]["columns"]] == ["id", "v", "label"]

    plan = Plan(run=run_context(3), jobs=[job])
    summary = finalize_run(plan, [changed], settings)
    assert summary.drift_findings and summary.drift_findings[0].startswith("t: ")
    assert "label" in summary.drift_findings[0]

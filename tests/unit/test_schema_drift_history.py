"""Schema snapshots, their comparison and the history file, on a real local folder through
fsspec (the same filesystem interface dlt's client gives for local lakes and az://)."""

from __future__ import annotations

import logging

import fsspec

from ingest.checks.schema_drift import ColumnSnapshot, SchemaHistory, compare, snapshot
from ingest.config.rules import SchemaContract, Severity

FS = fsspec.filesystem("file")


def columns(**types) -> list[ColumnSnapshot]:
    return [ColumnSnapshot(name, *spec) for name, spec in types.items()]


def test_compare_reports_each_kind_of_change():
    before = columns(id=("bigint", False, 64), qty=("bigint", True, 32), amount=("decimal", True, 10, 2),
                     at=("timestamp", True, None, None, True), blob=(None, True))
    after = columns(id=("bigint", False, 64), qty=("text", True), at=("timestamp", False, None, None, False),
                    blob=("binary", True), email=("text", True))
    report = compare(before, after, Severity.FAIL, SchemaContract.EVOLVE, previous_run_id="r1")
    assert report.status == "changed" and report.previous_run_id == "r1"
    assert report.added == [{"name": "email", "type": "text"}]
    assert report.removed == [{"name": "amount", "type": "decimal(10,2)"}]
    assert report.retyped == [{"name": "qty", "from": "bigint(32)", "to": "text"},
                              {"name": "at", "from": "timestamp(tz)", "to": "timestamp(naive)"}]  # an untyped column is no change
    assert report.nullability == [{"name": "at", "from": "NULL", "to": "NOT NULL"}]
    assert compare(None, after, Severity.WARN, SchemaContract.EVOLVE).status == "baseline"
    assert compare(after, after, Severity.WARN, SchemaContract.EVOLVE).status == "unchanged"


def test_snapshot_leaves_out_dlt_columns_and_normalizes_names():
    shot = snapshot({"CustomerID": {"data_type": "bigint"}, "_dlt_load_id": {"data_type": "text"}},
                    lambda name: name.lower())
    assert shot == [ColumnSnapshot("customerid", "bigint")]


def test_history_skips_a_broken_line_and_keeps_one_entry_per_run(tmp_path, caplog):
    history = SchemaHistory(FS, str(tmp_path / "raw" / "_ingest_schema_history" / "job.jsonl"))
    assert history.entries() == [] and history.last() is None
    history.append({"run_id": "r1", "columns": []})
    with open(history.path, "a", encoding="utf-8") as handle:
        handle.write('{"run_id": "r2", "colu\n')  # a torn write from some other tool
    with caplog.at_level(logging.WARNING):
        assert [e["run_id"] for e in history.entries()] == ["r1"]
    assert "line 2 is not JSON" in caplog.text
    history.append({"run_id": "r2", "columns": [], "n": 1})
    history.append({"run_id": "r2", "columns": [], "n": 2})
    assert [(e["run_id"], e.get("n")) for e in history.entries()] == [("r1", None), ("r2", 2)]
    assert history.last(before_run="r2")["run_id"] == "r1"
    assert sorted(p.name for p in (tmp_path / "raw" / "_ingest_schema_history").iterdir()) == ["job.jsonl"]

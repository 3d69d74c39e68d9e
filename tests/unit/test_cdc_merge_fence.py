"""The CDC Delta MERGE after dlt's commit (issue 33, item 8): fenced against the lock as the
commit is, and a batch counts as merged when the table holds it or a later one. Real Delta
tables in a local folder; the lock is a LockHandle whose check fails, as a lapsed lease's does."""

from __future__ import annotations

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from ingest.config.model import JobConfig, LoadType, SourceType, TableFormat
from ingest.core.errors import LockLostError
from ingest.core.result import JobResult, JobStatus, RunContext
from ingest.core.settings import Settings
from ingest.lake.cdc_merge import commit_properties
from ingest.lake.locks import LockHandle
from ingest.sources.postgres_cdc import connection_load


def test_a_batch_is_merged_when_the_table_holds_it_or_a_later_one(tmp_path):
    from ingest.lake.cdc_merge import already_merged

    write_deltalake(str(tmp_path / "t"), pa.table({"id": [1]}), commit_properties=commit_properties(200))
    table = DeltaTable(str(tmp_path / "t"))
    assert already_merged(table, 200) and already_merged(table, 150)  # 150: an older batch, merged since
    assert not already_merged(table, 201)
    write_deltalake(str(tmp_path / "plain"), pa.table({"id": [1]}))
    assert not already_merged(DeltaTable(str(tmp_path / "plain")), 1)


def test_the_merge_is_not_run_by_a_holder_that_lost_its_lock(monkeypatch):
    job = JobConfig(job_name="orders", enabled=True, source_type=SourceType.POSTGRES, connection="pg",
                    source_schema="s", source_table="orders", load_type=LoadType.CDC, primary_key=("id",),
                    table_format=TableFormat.DELTA, row=2)
    run = RunContext(run_id="r1", started_at="2026-01-05T06:00:00+00:00")
    merged = []
    monkeypatch.setattr(connection_load.landing, "apply_staged", lambda *args: merged.append(args) or {})

    def lapsed() -> None:
        raise LockLostError("the lease of cdc_pg was taken over")

    ctx = connection_load._Context(
        [job], run, Settings(), {"orders": JobResult("orders", JobStatus.FAILED, "r1", cdc={})},
        held=LockHandle("cdc_pg", lapsed))
    state = {"staged": {"orders": {"lsn": 5}}, "commit_lsn": 5}
    with pytest.raises(LockLostError):
        connection_load._merge_staged(ctx, state, pending=False)
    assert merged == []

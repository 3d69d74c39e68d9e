"""Several jobs starting together in a fresh local lake: dlt initializes the dataset on the first
load (checks its `init` file, then makedirs without exist_ok), so without the lake prepared
once before fan-out (ingest/lake/destination.py `prepare_lake`) jobs failed now and then with
FileExistsError. And a new lake never inherits local state kept for another (dlt's working
folders are per destination)."""

from __future__ import annotations

from ingest.config import read_workbook
from ingest.plan.planner import make_plan, new_run_context
from ingest.drivers.local.runner import run_local
from tests.integration.conftest import create_orders
from tests.workbooks import job_row, write_workbook


def test_jobs_starting_together_in_a_fresh_lake_all_load(postgres, pg_schema, settings, tmp_path):
    tables = [f"t{i}" for i in range(8)]
    for table in tables:
        create_orders(postgres, pg_schema, 20, table=table)
    book = write_workbook(tmp_path / "w.xlsx", [job_row(job_name=t, source_schema=pg_schema, source_table=t)
                                                for t in tables])
    for attempt in range(5):
        fresh = settings.with_overrides(destination=str(tmp_path / f"lake{attempt}"), max_workers=8,
                                        pipelines_dir=tmp_path / f"pipelines{attempt}")
        summary = run_local(make_plan(read_workbook(book), new_run_context()), fresh, book)
        assert [(j["job_name"], j["status"], j["error_class"]) for j in summary.jobs] == \
            [(t, "succeeded", None) for t in tables]


def test_an_emptied_lake_is_loaded_again_from_the_start(postgres, pg_schema, settings, tmp_path):
    """The pipelines folder keeps an incremental watermark, the lake is new: dlt wipes the stale
    local state, so every row lands in the new lake (no workbook write-back here: the workbook's
    watermark would rightly start the new lake later)."""
    create_orders(postgres, pg_schema, 20)
    book = write_workbook(tmp_path / "w.xlsx", [job_row(source_schema=pg_schema, load_type="INCREMENTAL",
                                                        watermark_column="updated_at")])
    for lake in ("first", "second"):
        summary = run_local(make_plan(read_workbook(book), new_run_context()),
                            settings.with_overrides(destination=str(tmp_path / lake)), None)
        assert summary.jobs[0]["rows_processed"] == 20, lake


def test_a_lake_deleted_under_a_warm_process_is_prepared_again(settings):
    """prepare_lake runs once per lake per process; a local lake that has gone since is
    prepared again, so the jobs that follow still start in a ready lake."""
    import shutil
    from pathlib import Path

    from ingest.lake.destination import prepare_lake

    dataset = Path(settings.destination, settings.dataset)
    prepare_lake(settings)
    assert dataset.is_dir()
    prepare_lake(settings)  # remembered: nothing to do
    shutil.rmtree(settings.destination)
    prepare_lake(settings)
    assert dataset.is_dir() and any(dataset.iterdir())  # dlt's init marker is back

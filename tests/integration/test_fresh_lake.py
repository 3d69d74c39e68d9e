"""Several jobs starting together in a fresh local lake: dlt initializes the dataset on the first
load (checks its `init` file, then makedirs without exist_ok), so without the runner
initializing it first, jobs failed now and then with FileExistsError."""

from __future__ import annotations

from ingest.config import read_workbook
from ingest.destination import ensure_container
from ingest.plan import make_plan, new_run_context
from ingest.runner import run_local
from tests.integration.conftest import create_orders
from tests.workbooks import job_row, write_workbook


def test_ensure_container_initializes_the_local_dataset(settings, tmp_path):
    for destination in (str(tmp_path / "a lake"), (tmp_path / "b").as_uri()):
        local = settings.with_overrides(destination=destination)
        ensure_container(local)
        ensure_container(local)  # a second time is harmless
    assert (tmp_path / "a lake" / "raw" / "init").is_file() and (tmp_path / "b" / "raw" / "init").is_file()


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

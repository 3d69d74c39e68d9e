"""The az:// destination against Azurite: layout in blob storage, state restored from it."""

from __future__ import annotations

import io
import shutil

import pyarrow.parquet as pq
from azure.storage.blob import BlobServiceClient

from ingest.config import read_workbook
from ingest.plan.planner import make_plan, new_run_context
from ingest.drivers.local.runner import run_local
from tests.integration.conftest import create_orders, sql
from tests.workbooks import job_row, write_workbook


def test_incremental_loads_into_azurite_and_resume_from_its_state(postgres, pg_schema, azurite, settings, tmp_path):
    create_orders(postgres, pg_schema, 300)
    container = f"lake{pg_schema.replace('_', '')}"
    settings = settings.with_overrides(destination=f"az://{container}/bronze",
                                       azure_storage_connection_string=azurite.connection_string)
    book = write_workbook(tmp_path / "w.xlsx", [job_row(
        source_schema=pg_schema, load_type="INCREMENTAL", watermark_column="updated_at")])

    def run():
        config = read_workbook(book)
        return run_local(make_plan(config, new_run_context()), settings, book)

    first = run()  # the container does not exist yet: the runner creates it
    assert first.exit_code == 0, first.jobs
    sql(postgres, f"UPDATE {pg_schema}.orders SET updated_at = updated_at + interval '1 day' WHERE id <= 7")
    shutil.rmtree(settings.pipelines_dir)
    second = run()
    assert second.exit_code == 0, second.jobs
    assert [first.jobs[0]["rows_processed"], second.jobs[0]["rows_processed"]] == [300, 7]

    client = BlobServiceClient.from_connection_string(azurite.connection_string).get_container_client(container)
    names = sorted(b.name for b in client.list_blobs(name_starts_with="bronze/raw/orders/"))
    expected = sorted("bronze/" + f for job in (first.jobs[0], second.jobs[0]) for f in job["files"])
    assert names == expected and len(names) == 2
    rows = sum(pq.read_table(io.BytesIO(client.download_blob(n).readall())).num_rows for n in names)
    assert rows == 307

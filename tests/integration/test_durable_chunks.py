"""The same chunked job through the Durable replay driver (split, chunk and commit
activities in sub-orchestrations, a sliding window of 2) into Azurite, and through the local
runner into a folder: the same lake table, the same chunks. The Functions host itself cannot
run here: tests/durable_driver.py plays the extension's part with the SDK's replay engine."""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.parquet as pq

from tests.durable_driver import DurableDriver
from tests.integration.conftest import create_orders
from tests.integration.test_chunked_loads import book, lake_table, run
from tests.integration.test_durable_app import app_env, upload  # noqa: F401 (fixture)


def azure_table(service, container: str, table: str) -> pa.Table:
    client = service.get_container_client(container)
    parts = [pq.read_table(io.BytesIO(client.download_blob(b.name).readall()))
             for b in client.list_blobs(name_starts_with=f"raw/{table}/") if b.name.endswith(".parquet")]
    return pa.concat_tables(parts).sort_by("id")


def test_a_chunked_job_on_durable_lands_the_same_lake_as_locally(postgres, pg_schema, app_env, tmp_path, settings):
    service, config_container, suffix = app_env
    create_orders(postgres, pg_schema, 3000)
    workbook = book(tmp_path, source_schema=pg_schema, load_type="INCREMENTAL", watermark_column="updated_at",
                    chunk_size="4 chunks")
    upload(config_container, workbook)
    from function_app import app

    driver = DurableDriver(app)
    outcome = driver.run("ingest_run_orchestrator", {"request": {}, "trigger": "http"}, "ingest-all")
    job = outcome.output["jobs"][0]
    assert job["status"] == "succeeded", job
    assert job["rows_processed"] == 3000
    assert job["chunks"]["commit"] == "files imported"  # downloaded from Azurite, imported as they are
    called = [name for name, _ in driver.activity_calls]
    assert called.count("split_chunks") == 1 and called.count("load_chunk") == 4 and called.count("commit_chunks") == 1
    assert outcome.custom_status["chunks_done"] == outcome.custom_status["chunks_total"] == 4

    local = run(workbook, settings)
    assert job["chunks"]["rows"] == local.jobs[0]["chunks"]["rows"]  # the same boundaries
    assert job["watermark_after"] == local.jobs[0]["watermark_after"]
    assert azure_table(service, f"lake{suffix}", "orders").equals(lake_table(settings))
    blobs = [b.name for b in service.get_container_client(f"lake{suffix}").list_blobs(name_starts_with="raw/_ingest_chunks")]
    assert blobs == []  # the staging folder went with the commit

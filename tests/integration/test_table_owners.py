"""Lake tables have owners (issue 32, case 2): two workbooks writing one lake table replaced
each other's files. Each table now records, in the lake beside its data (`_ingest_owners/`),
the job and source that write it; another job is refused before it loads, naming both and the
override (`--take-over`), which the audit records. Real PostgreSQL, a local folder lake and
Azurite."""

from __future__ import annotations

import json
import logging
import shutil
import uuid

import pytest

from ingest.cli import main
from ingest.config import read_workbook
from ingest.drivers.dry_run import describe_plan, format_plan
from ingest.drivers.local.runner import run_local
from ingest.plan.planner import make_plan, new_run_context
from ingest.plan.request import RunRequest
from ingest.records.audit import read_audit
from tests.integration.conftest import create_orders
from tests.workbooks import job_row, write_workbook

OWNERS = "_ingest_owners"


def _run(book, settings, take_over=()):
    config = read_workbook(book)
    plan = make_plan(config, new_run_context(), request=RunRequest(take_over=tuple(take_over)) if take_over else None)
    return run_local(plan, settings, book)


def _books(tmp_path, schema):
    """Workbook a: job `orders` from table orders; workbook b: job `orders_copy` from another
    table into the same lake table `orders`."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = write_workbook(tmp_path / "a" / "w.xlsx", [job_row(source_schema=schema)])
    # max_shrink_pct 100: these tests are about the owner; replacing 50 rows with 7 would
    # otherwise be refused by the shrink guard (tests/integration/test_shrink_guard.py)
    b = write_workbook(tmp_path / "b" / "w.xlsx", [job_row(job_name="orders_copy", source_schema=schema,
                                                           source_table="orders2", target_table="orders",
                                                           max_shrink_pct="100")])
    return a, b


def tmp_lake(settings):
    from pathlib import Path

    return Path(settings.destination)


def _lake_files(settings):
    return sorted(p.name for p in (tmp_lake(settings) / "raw" / "orders").rglob("*.parquet"))


def test_a_second_workbook_writing_the_same_table_is_refused_naming_both_and_the_override(
        postgres, pg_schema, settings, tmp_path):
    create_orders(postgres, pg_schema, 50)
    create_orders(postgres, pg_schema, 7, table="orders2")
    a, b = _books(tmp_path, pg_schema)
    assert _run(a, settings).exit_code == 0
    files = _lake_files(settings)
    second = _run(b, settings).jobs[0]
    assert second["status"] == "failed" and second["error_class"] == "TableOwnedError"
    message = second["error_message"]
    assert "'orders'" in message and "'orders_copy'" in message and "--take-over orders" in message
    assert second["attempts"] == 1  # a configuration error: not retried
    assert _lake_files(settings) == files  # nothing of a's was replaced
    record = json.loads((tmp_lake(settings) / "raw" / OWNERS / "orders.json").read_text())
    assert record["job_name"] == "orders" and record["source"] == f"{pg_schema}.orders"
    assert "w.xlsx" not in json.dumps(record)  # the workbook's path is no part of the owner


def test_take_over_loads_and_the_audit_consents_column_says_so(postgres, pg_schema, settings, tmp_path, caplog):
    create_orders(postgres, pg_schema, 50)
    create_orders(postgres, pg_schema, 7, table="orders2")
    a, b = _books(tmp_path, pg_schema)
    assert _run(a, settings).exit_code == 0
    with caplog.at_level(logging.WARNING):
        taken = _run(b, settings, take_over=["orders"]).jobs[0]
    assert taken["status"] == "succeeded" and taken["rows_processed"] == 7
    assert any("took over lake table 'orders' from job 'orders'" in c for c in taken["consents"])
    assert "took over lake table 'orders'" in caplog.text
    row = [r for r in read_audit(settings.audit_dir) if r["job_name"] == "orders_copy"][-1]
    assert "took over lake table 'orders' from job 'orders'" in row["consents"]
    again = _run(a, settings).jobs[0]  # the table is b's now: a is refused in turn
    assert again["error_class"] == "TableOwnedError" and "'orders_copy'" in again["error_message"]


def test_the_same_job_from_a_copy_of_its_workbook_elsewhere_is_the_same_owner(postgres, pg_schema, settings,
                                                                                tmp_path):
    create_orders(postgres, pg_schema, 20)
    a, _ = _books(tmp_path, pg_schema)
    assert _run(a, settings).exit_code == 0
    copy = tmp_path / "elsewhere" / "copy.xlsx"
    copy.parent.mkdir()
    shutil.copy(a, copy)
    shutil.rmtree(settings.pipelines_dir)  # another machine, too
    result = _run(copy, settings).jobs[0]
    assert result["status"] == "succeeded", result["error_message"]


def test_a_table_without_owner_record_is_adopted_once_then_protected(postgres, pg_schema, settings, tmp_path,
                                                                     caplog):
    create_orders(postgres, pg_schema, 50)
    create_orders(postgres, pg_schema, 7, table="orders2")
    a, b = _books(tmp_path, pg_schema)
    assert _run(a, settings).exit_code == 0
    shutil.rmtree(tmp_lake(settings) / "raw" / OWNERS)  # a lake from before owners were recorded
    with caplog.at_level(logging.WARNING):
        adopted = _run(b, settings).jobs[0]
    assert adopted["status"] == "succeeded"
    assert caplog.text.count("adopted by job 'orders_copy'") == 1
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assert _run(b, settings).jobs[0]["status"] == "succeeded"
    assert "adopted" not in caplog.text  # once
    refused = _run(a, settings).jobs[0]
    assert refused["error_class"] == "TableOwnedError" and "'orders_copy'" in refused["error_message"]


def test_plan_and_validate_against_the_lake_say_the_job_is_refused(postgres, pg_schema, settings, tmp_path,
                                                                   capsys, monkeypatch):
    create_orders(postgres, pg_schema, 10)
    a, b = _books(tmp_path, pg_schema)
    assert _run(a, settings).exit_code == 0
    plan = make_plan(read_workbook(b), new_run_context())
    text = format_plan(describe_plan(plan, settings, read_state=None, read_slot=None))
    assert "REFUSED" in text and "owned by job 'orders'" in text and "--take-over orders" in text
    taken = make_plan(read_workbook(b), new_run_context(), request=RunRequest(take_over=("orders",)))
    assert "takes over" in format_plan(describe_plan(taken, settings, read_state=None, read_slot=None))
    monkeypatch.setenv("INGEST_PIPELINES_DIR", str(settings.pipelines_dir))
    assert main(["validate", "--config", str(b), "--destination", settings.destination]) == 2
    err = capsys.readouterr().err
    assert "owned by job 'orders'" in err and "--take-over orders" in err
    assert main(["validate", "--config", str(a), "--destination", settings.destination]) == 0


def test_owners_on_an_azurite_lake_first_writer_wins(postgres, pg_schema, azurite, settings, tmp_path):
    from azure.storage.blob import BlobServiceClient

    create_orders(postgres, pg_schema, 30)
    create_orders(postgres, pg_schema, 7, table="orders2")
    container = f"owners{uuid.uuid4().hex[:10]}"
    settings = settings.with_overrides(destination=f"az://{container}/bronze",
                                       azure_storage_connection_string=azurite.connection_string)
    a, b = _books(tmp_path, pg_schema)
    assert _run(a, settings).exit_code == 0
    refused = _run(b, settings).jobs[0]
    assert refused["error_class"] == "TableOwnedError" and "'orders'" in refused["error_message"]
    blobs = BlobServiceClient.from_connection_string(azurite.connection_string).get_container_client(container)
    record = json.loads(blobs.download_blob(f"bronze/raw/{OWNERS}/orders.json").readall())
    assert record["job_name"] == "orders"
    from ingest.lake.owners import OwnerBook, owner_of

    book = OwnerBook.open(settings)
    other = owner_of(read_workbook(b).jobs[0])
    assert book.create("fresh", other) is True
    assert book.create("fresh", owner_of(read_workbook(a).jobs[0])) is False  # if-none-match: first wins
    assert book.read("fresh").job_name == "orders_copy"
    taken = _run(b, settings, take_over=["orders"]).jobs[0]
    assert taken["status"] == "succeeded" and taken["consents"]


@pytest.mark.parametrize("dataset", ["demo"])
def test_the_makefile_demo_writes_its_own_dataset(dataset):
    from pathlib import Path

    from ingest.core.settings import Settings

    makefile = (Path(__file__).parents[2] / "Makefile").read_text()
    recipe = makefile.split("\nrun: demo\n", 1)[1].split("\n\n", 1)[0]
    assert f"INGEST_DATASET={dataset}" in recipe and Settings().dataset != dataset


def test_a_chunked_load_is_refused_before_it_stages_a_chunk(postgres, pg_schema, settings, tmp_path):
    create_orders(postgres, pg_schema, 50)
    create_orders(postgres, pg_schema, 40, table="orders2")
    a, _ = _books(tmp_path, pg_schema)
    chunked = write_workbook(tmp_path / "b" / "chunked.xlsx", [job_row(
        job_name="orders_copy", source_schema=pg_schema, source_table="orders2", target_table="orders",
        chunk_size="4 chunks")])
    assert _run(a, settings).exit_code == 0
    files = _lake_files(settings)
    refused = _run(chunked, settings).jobs[0]
    assert refused["error_class"] == "TableOwnedError" and "'orders'" in refused["error_message"]
    assert not (tmp_lake(settings) / "raw" / "_ingest_chunks" / "orders_copy").exists()  # nothing staged
    assert _lake_files(settings) == files


def test_a_cdc_load_is_refused_before_it_writes(postgres, pg_schema, settings, cdc, tmp_path):
    from ingest.core.result import RunContext
    from ingest.lake.locks import FileJobLock
    from ingest.sources.postgres_cdc.connection_load import load_connection
    from tests.cdc_helpers import cdc_job, load, sql

    schema, connection = cdc
    sql(postgres, f"CREATE TABLE {schema}.orders (id int PRIMARY KEY, note text);"
                  f" INSERT INTO {schema}.orders SELECT g, 'n' || g FROM generate_series(1, 5) g")
    create_orders(postgres, pg_schema, 30)
    other = write_workbook(tmp_path / "other.xlsx", [job_row(job_name="someone", source_schema=pg_schema)])
    assert _run(other, settings).exit_code == 0
    files = _lake_files(settings)
    job = cdc_job("orders", connection, schema, "orders", "parquet")
    refused = load([job], settings)["orders"]
    assert refused.error_class == "TableOwnedError" and "'someone'" in refused.error_message
    assert _lake_files(settings) == files
    run = RunContext(run_id="r2", started_at="2024-05-02T10:00:00+00:00", take_over=("orders",))
    (taken,) = load_connection([job], run, settings, FileJobLock(settings.pipelines_dir / "locks"))
    assert taken.succeeded, taken.error_message
    assert "took over lake table 'orders' from job 'someone'" in taken.consents[0]

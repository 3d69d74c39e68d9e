"""Owner records of lake tables (ingest/lake/owners.py) on a real local folder through fsspec's
local filesystem (what dlt's filesystem client gives for a folder lake): derived and nested
tables belong to their job's owner, first writer wins, the identity has no workbook path."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from fsspec.implementations.local import LocalFileSystem

from ingest.config.model import JobConfig, LoadType, SourceType
from ingest.core.errors import TableOwnedError
from ingest.lake.owners import OwnerBook, claim_tables, owner_of


def job(name: str, table: str, target: str | None = None, **values) -> JobConfig:
    values = {"load_type": LoadType.FULL, **values}
    return JobConfig(job_name=name, enabled=True, source_type=SourceType.POSTGRES, connection="pg",
                     source_schema="sales", source_table=table, target_table=target, primary_key=("id",), **values)


@pytest.fixture
def book(tmp_path):
    (tmp_path / "raw").mkdir()
    return OwnerBook(LocalFileSystem(), str(tmp_path / "raw"))


def test_a_jobs_derived_tables_are_recorded_and_refused_to_another_job(book, tmp_path):
    orders = job("orders", "orders", load_type=LoadType.INCREMENTAL, watermark_column="u", detect_deleted_keys=True)
    assert claim_tables(book, orders, "run1") == []
    record = json.loads((tmp_path / "raw" / "_ingest_owners" / "orders_deleted_keys.json").read_text())
    assert record["job_name"] == "orders" and record["role"] == "deleted-keys table" and record["table"] == "orders"
    with pytest.raises(TableOwnedError, match="lake table 'orders_deleted_keys' is owned by job 'orders'"):
        claim_tables(book, job("keys", "k", "orders_deleted_keys"), "run2")
    with pytest.raises(TableOwnedError, match="'orders__tags' is a nested table of 'orders'"):
        claim_tables(book, job("tags", "t", "orders__tags"), "run2")
    assert claim_tables(book, orders, "run3") == []  # its own tables: nothing to say


def test_a_job_whose_nested_tables_another_job_writes_is_refused(book):
    claim_tables(book, job("tags", "t", "events__tags"), "run1")
    with pytest.raises(TableOwnedError, match=r"its nested tables 'events__\*' include lake table 'events__tags'"):
        claim_tables(book, job("events", "events"), "run2")
    consents = claim_tables(book, job("events", "events"), "run3", take_over=["events"])
    assert consents and "took over lake table 'events__tags' from job 'tags'" in consents[0]
    assert book.read("events__tags").job_name == "events"


def test_another_source_for_the_same_job_name_is_another_owner(book):
    claim_tables(book, job("orders", "orders"), "run1")
    moved = job("orders", "orders_v2", "orders")
    with pytest.raises(TableOwnedError, match=r"--take-over orders"):
        claim_tables(book, moved, "run2")
    assert owner_of(job("orders", "ORDERS")).same_owner(owner_of(job("orders", "orders")))


def test_first_writer_wins_among_many(book):
    owners = [owner_of(job(f"j{i}", "t", "shared")) for i in range(8)]
    won: list[str] = []

    def create(owner):
        if book.create("shared", owner):
            won.append(owner.job_name)

    threads = [threading.Thread(target=create, args=(o,)) for o in owners]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1 and book.read("shared").job_name == won[0]
    assert [p.name for p in Path(book.dataset_path, "_ingest_owners").iterdir()] == ["shared.json"]  # no temp left

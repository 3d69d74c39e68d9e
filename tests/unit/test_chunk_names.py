"""The names of a chunked load's chunks and files (ingest/lake/chunk_names.py): what it makes
it accepts, and a name from outside (an activity's input, a done.json) that it would not make
is refused before it can name a path."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from ingest.lake import chunk_names
from ingest.sources.chunk_ranges import chunk_ranges


def test_the_ids_the_split_makes_are_the_ids_it_accepts():
    ranges = chunk_ranges(list(range(1, 256)), nullable=True)
    ids = [r["id"] for r in ranges]
    assert ids[0] == "c000" and ids[-2] == "c255" and ids[-1] == chunk_names.NULL_CHUNK == "cnull"
    assert all(chunk_names.is_chunk_id(i) for i in ids)


@pytest.mark.parametrize("text", ["c001\n", "../c001", "c1000", "c01", "C001", "cnul", "c001/x", "", "c00a"])
def test_a_name_it_does_not_make_is_not_a_chunk(text):
    assert not chunk_names.is_chunk_id(text)


def test_attempts_and_parts_match_their_patterns():
    attempt = chunk_names.new_attempt()
    assert chunk_names.ATTEMPT.fullmatch(attempt) and attempt != chunk_names.new_attempt()
    assert chunk_names.PART_FILE.fullmatch(chunk_names.part_name(7)) and chunk_names.part_name(7) == "part-00007.parquet"
    assert not chunk_names.PART_FILE.fullmatch("../part-00007.parquet")
    with pytest.raises(ValueError):
        chunk_names.chunk_id(1000)


def test_a_scratch_folder_is_recognised_as_its_job_s_only():
    with tempfile.TemporaryDirectory(prefix=chunk_names.scratch_prefix("orders", "c003")) as made:
        name = Path(made).name
        assert chunk_names.is_scratch_of(name, "orders")
        assert not chunk_names.is_scratch_of(name, "order")
        assert not chunk_names.is_scratch_of(name, "orders_2")
    assert chunk_names.is_scratch_of(chunk_names.scratch_prefix("orders_2", "cnull") + "x1", "orders_2")
    assert not chunk_names.is_scratch_of(chunk_names.scratch_prefix("orders", "c003"), "orders")  # no suffix
    assert not chunk_names.is_scratch_of("chunk-orders-c999x-abc", "orders")
    assert not chunk_names.is_scratch_of("commit-abc", "orders")

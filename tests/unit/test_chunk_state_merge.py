"""The cursor state a chunked first INCREMENTAL load leaves (ingest/drivers/chunks/staged_files.py):
what one load over every chunk would leave, from each chunk's own state."""

from __future__ import annotations

from datetime import datetime

from ingest.drivers.chunks.staged_files import merged_state


def column(last, hashes, initial=None):
    return {"initial_value": initial, "last_value": last, "unique_hashes": hashes, "start_value": initial}


def test_the_highest_last_value_wins_with_the_hashes_of_every_chunk_that_reached_it():
    early, late = datetime(2024, 3, 1, 12), datetime(2024, 3, 1, 13)
    states = [{"updated_at": column(late, ["a"])}, {"updated_at": column(early, ["b"])},
              {"updated_at": column(late, ["c", "a"])}]
    merged = merged_state(states)["updated_at"]
    assert merged["last_value"] == late
    assert sorted(merged["unique_hashes"]) == ["a", "c"]  # not b: its rows are below the last value


def test_a_chunk_without_rows_keeps_the_initial_value_and_does_not_move_the_cursor():
    initial = datetime(2024, 1, 1)
    states = [{"updated_at": column(initial, [], initial)}, {"updated_at": column(datetime(2024, 2, 1), ["x"], initial)}]
    assert merged_state(states)["updated_at"]["last_value"] == datetime(2024, 2, 1)
    only_empty = merged_state([{"updated_at": column(None, [], None)}])["updated_at"]
    assert only_empty["last_value"] is None and only_empty["unique_hashes"] == []


def test_no_cursor_state_merges_to_nothing():
    assert merged_state([]) == {}

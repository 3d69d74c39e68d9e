"""Row rules of the chunked-load columns (chunk_size, chunk_column): which jobs may load in
chunks. Each problem is (column, message); the workbook reader turns it into a `jobs!<cell>`
error. What is refused here is what a chunk cannot do on its own: a composite watermark or a
lookback decide row by row from the state of the whole load, the deleted-keys snapshot compares
the whole table, and SCD2 merges a whole staging table. A CDC row's chunk_size splits its initial
snapshot (ingest/sources/postgres_cdc/snapshot_chunks.py), which is still one load."""

from __future__ import annotations

from typing import Any

from ingest.config.model import LoadType

NOT_WITH_CHUNKS = {
    "lookback": "a lookback re-reads rows by the state of the whole load",
    "detect_deleted_keys": "the deleted keys are found by comparing the whole table",
    "scd2": "SCD2 merges one whole staging table",
}


def chunk_problems(values: dict[str, Any]) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    if values.get("chunk_column") and not values.get("chunk_size"):
        problems.append(("chunk_column", "chunk_column needs chunk_size (e.g. 8 chunks)"))
    if not values.get("chunk_size"):
        return problems
    if values.get("load_type") is LoadType.CDC:  # chunks of its initial snapshot: by the table's pages
        if values.get("chunk_column"):
            problems.append(("chunk_column", "a CDC job's snapshot chunks split by the table's pages, not by a"
                             " column: leave chunk_column empty"))
        return problems
    source_type = values.get("source_type")
    if source_type is not None and not source_type.is_sql:
        problems.append(("chunk_size", f"chunk_size applies to SQL sources only, not {source_type.value}"))
    for column, why in NOT_WITH_CHUNKS.items():
        if values.get(column):
            problems.append((column, f"{column} cannot be used with chunk_size: {why}"))
    if len(values.get("watermark_column") or ()) > 1:
        problems.append(("watermark_column", "several watermark columns cannot be used with chunk_size:"
                         " the composite cursor is tracked row by row over the whole load"))
    return problems

"""The net change per key of a spilled batch (spill.py), as arrow blocks, for a Delta MERGE.

Two passes over the batch's scratch files: the first reads the narrow columns (the key and
`_cdc_op` / `_cdc_lsn` / `_cdc_commit_ts` / `_cdc_seq`) of every change and finds each key's last
change (and, for `cdc_deletes` mark, its last insert or update); the second streams the blocks
again and keeps those rows. Memory: the narrow columns of the batch (the key plus about 30
bytes a change) and one block; never the batch's rows.
"""

from __future__ import annotations

from typing import Any, Iterator

import pyarrow as pa
import pyarrow.compute as pc

from ingest.lake.cdc_columns import COMMIT_TS, DELETED, HAS_VALUES, INGEST_DELETED, LSN, OP, SEQ
from ingest.sources.postgres_cdc.spill import TableSpill

META = (OP, LSN, COMMIT_TS, SEQ)
INDEX = "__cdc_index"


def _narrow(spill: TableSpill, key: list[str]) -> pa.Table:
    """Key and meta columns of every change, with its position in the batch (`INDEX`)."""
    blocks, offset = [], 0
    columns = list(dict.fromkeys([*key, *META]))
    for block in spill.batches(columns):
        positions = pa.array(range(offset, offset + block.num_rows), pa.int64())
        blocks.append(block.append_column(INDEX, positions))
        offset += block.num_rows
    schema = spill.schema()
    empty = pa.schema([schema.field(c) for c in columns] + [pa.field(INDEX, pa.int64())])
    return pa.Table.from_batches(blocks, schema=empty)


def _last_index(narrow: pa.Table, key: list[str], name: str = INDEX) -> pa.Table:
    """Each key with the position of its last row in `narrow` (column `name`)."""
    last = narrow.group_by(key, use_threads=False).aggregate([(INDEX, "max")])
    return pa.table({**{k: last[k] for k in key}, name: last[f"{INDEX}_max"]})


def net_change(spill: TableSpill, key: list[str]) -> Iterator[pa.Table]:
    """The last change of each key, deletes marked with `_cdc_deleted` (dlt's hard-delete column)."""
    narrow = _narrow(spill, key)
    keep = pc.is_in(narrow[INDEX], value_set=_last_index(narrow, key)[INDEX].combine_chunks())
    del narrow
    for block, offset in _with_offsets(spill):
        kept = pa.Table.from_batches([block]).filter(keep.slice(offset, block.num_rows))
        yield kept.append_column(DELETED, pc.equal(kept[OP], "D"))


def soft_net_change(spill: TableSpill, key: list[str]) -> Iterator[pa.Table]:
    """The last change of each key with `_ingest_deleted` (cdc_deletes mark, ingest/lake/cdc_merge.py).
    A delete takes the values of the key's last insert or update in the batch when there is one
    (`_cdc_has_values` true); otherwise it carries the key only and the lake keeps the row's values."""
    narrow = _narrow(spill, key)
    values = _last_index(narrow.filter(pc.not_equal(narrow[OP], "D")), key, "__values")
    plan = _last_index(narrow, key).join(values, keys=key, join_type="left outer", use_threads=False)
    last_at, values_at = plan[INDEX].combine_chunks(), plan["__values"].combine_chunks()
    deleted = pc.equal(narrow[OP].take(last_at), "D").combine_chunks()
    source = pc.if_else(pc.and_(deleted, pc.is_valid(values_at)), values_at, last_at)
    order = pc.sort_indices(source)  # plan rows by the position of the row they take
    meta = {c: narrow[c].take(last_at).take(order) for c in META}
    flags = {INGEST_DELETED: deleted.take(order),
             HAS_VALUES: pc.or_(pc.invert(deleted), pc.is_valid(values_at)).take(order)}
    keep = pc.is_in(narrow[INDEX], value_set=source)
    del narrow
    yield from _soft_blocks(spill, keep, meta, flags)


def _soft_blocks(spill: TableSpill, keep: Any, meta: dict[str, Any], flags: dict[str, Any]) -> Iterator[pa.Table]:
    """The rows `keep` marks, block by block; `meta` and `flags` hold their plan rows in the same
    (position) order: their `_cdc_*` columns are those of the key's last change."""
    start = 0
    for block, offset in _with_offsets(spill):
        table = pa.Table.from_batches([block]).filter(keep.slice(offset, block.num_rows))
        count = table.num_rows
        for name, column in meta.items():
            table = table.set_column(table.schema.get_field_index(name), name, column.slice(start, count))
        for name, column in flags.items():
            table = table.append_column(name, column.slice(start, count))
        start += count
        yield table


def _with_offsets(spill: TableSpill) -> Iterator[tuple[pa.RecordBatch, int]]:
    offset = 0
    for block in spill.batches():
        yield block, offset
        offset += block.num_rows

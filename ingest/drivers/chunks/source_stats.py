"""The source side of a chunked load's value and row-count checks, asked by each chunk over its
own range (in parallel, right after it read the range) and summed by the commit: rows and
non-null counts add up, minima and maxima are the least and greatest of the chunks'. The plain
load asks the whole table beside its load (ingest/load.py); the commit of staged files is so
short that the whole-table scan became its longest step.

Kept in done.json with dlt's typed JSON (decimals, dates, times and timestamps come back as
they were); a record that does not read back is a ChunkedLoadError naming the chunk.
"""

from __future__ import annotations

from typing import Any

from ingest.checks.values import ColumnStats
from ingest.core.errors import ChunkedLoadError

Stats = tuple[int, dict[str, ColumnStats], set[str]]
"""(rows, stats per column, columns with min/max): what SqlJobSource.value_stats returns."""


def encode(stats: Stats) -> str:
    from dlt.common.json import json as dlt_json

    rows, columns, ranged = stats
    return dlt_json.typed_dumps({"rows": rows, "ranged": sorted(ranged),
                                 "columns": {name: [c.non_null, c.minimum, c.maximum] for name, c in columns.items()}})


def decode(chunk_id: str, text: Any) -> Stats:
    from dlt.common.json import json as dlt_json

    try:
        data = dlt_json.typed_loads(text)
        columns = {str(name): ColumnStats(int(values[0]), values[1], values[2])
                   for name, values in data["columns"].items()}
        return int(data["rows"]), columns, {str(name) for name in data["ranged"]}
    except (TypeError, ValueError, KeyError, IndexError, AttributeError) as exc:
        raise ChunkedLoadError(f"chunk {chunk_id}: its done.json holds unreadable source statistics;"
                               " nothing was published") from exc


def merged(records: dict[str, dict]) -> Stats | None:
    """The chunks' statistics summed; None when a chunk has none (the commit then asks the
    source itself, as the plain load does)."""
    if not records or any(r.get("source_stats") is None for r in records.values()):
        return None
    parts = [decode(chunk_id, r["source_stats"]) for chunk_id, r in records.items()]
    rows = sum(p[0] for p in parts)
    ranged = set().union(*(p[2] for p in parts))
    columns: dict[str, ColumnStats] = {}
    for _, stats, _ in parts:
        for name, part in stats.items():
            total = columns.setdefault(name, ColumnStats())
            total.non_null += part.non_null
            total.minimum = _least(total.minimum, part.minimum)
            total.maximum = _greatest(total.maximum, part.maximum)
    return rows, columns, ranged


def _least(a: Any, b: Any) -> Any:
    return b if a is None else a if b is None else min(a, b)


def _greatest(a: Any, b: Any) -> Any:
    return b if a is None else a if b is None else max(a, b)

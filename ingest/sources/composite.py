"""Composite watermarks: rows after the last (c1, c2, ...) tuple loaded.

Why not dlt's incremental on the first column with boundary de-duplication: dlt keeps a hash
of every row at the boundary value in its state, so a bulk update that gives 10 million rows
one `modified_at` makes a state of 10 million hashes, and the boundary rows are read again by
every run. Here the state is one tuple, and the query reads exactly the rows after it:

    c1 > :v1 OR (c1 = :v1 AND (c2 > :v2 OR (c2 = :v2 AND c3 > :v3)))

written out instead of a row-value `(c1, c2) > (:v1, :v2)`, which neither SQL Server nor
Oracle accept. Values are bound parameters. Text columns are refused: the database orders
them by its collation and Python by code point, so a tie-break on text could skip rows.

dlt has no composite cursor, so this is written by hand: the last tuple lives in the
resource's dlt state (`composite_watermark`), which dlt commits with the data, so a failed
load never advances it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import dlt
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from ingest.sources.watermark_values import base_type, from_text, order_key, to_text

STATE_KEY = "composite_watermark"


def check_orderable(columns: list[sa.Column], job_name: str) -> None:
    from ingest.core.errors import ConfigError

    for column in columns:
        if isinstance(base_type(column), sa.String):
            raise ConfigError(f"job '{job_name}': composite watermark column '{column.name}' is text; use"
                              " timestamp, date or number columns (text order depends on the collation)")


def after_clause(columns: list[sa.Column], last: list[Any]) -> Any:
    """c1 > v1 OR (c1 = v1 AND (<the same for the rest>))."""
    head, value = columns[0], last[0]
    if len(columns) == 1:
        return head > value
    return sa.or_(head > value, sa.and_(head == value, after_clause(columns[1:], last[1:])))


def stored_last(resource_state: dict[str, Any], columns: list[sa.Column]) -> list[Any] | None:
    stored = resource_state.get(STATE_KEY, {})
    names = [c.name for c in columns]
    if stored.get("columns") != names or stored.get("last") is None:
        return None  # a changed column list starts from last_watermark again
    return [from_text(v, c) for v, c in zip(stored["last"], columns)]


@dataclass
class CompositeTracker:
    """A map step over arrow batches that keeps the greatest tuple seen in dlt state."""

    resource_name: str
    columns: list[sa.Column]

    def __call__(self, batch: Any) -> Any:
        if not isinstance(batch, pa.Table) or batch.num_rows == 0:
            return batch
        names = [c.name for c in self.columns]
        order = pc.sort_indices(batch.select(names), sort_keys=[(n, "descending") for n in names])
        top = batch.select(names).take(order[:1]).to_pylist()[0]
        candidate = [top[n] for n in names]
        if any(v is None for v in candidate):
            return batch
        state = dlt.current.resource_state(self.resource_name)
        current = stored_last(state, self.columns)
        if current is None or [order_key(v) for v in candidate] > [order_key(v) for v in current]:
            state[STATE_KEY] = {"columns": names, "last": [to_text(v) for v in candidate]}
        return batch


def last_first_value(pipeline_state: dict[str, Any], resource_names: set[str]) -> Any:
    """The first column of the stored tuple (for the audit and the workbook), or None."""
    for source in pipeline_state.get("sources", {}).values():
        for name, resource in source.get("resources", {}).items():
            stored = resource.get(STATE_KEY) if name.lower() in resource_names else None
            if stored and stored.get("last"):
                return stored["last"][0]
    return None

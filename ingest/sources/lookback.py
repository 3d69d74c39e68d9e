"""Lookback: every run re-reads the last N days (units) before the watermark, so a row that
was committed late with an older watermark is still loaded, and re-read rows do not land twice.

dlt's incremental `lag` moves the start back (seconds for timestamp cursors, days for dates,
units for numbers) but it only de-duplicates rows equal to the last value: every other row of
the overlap would be appended again. So the overlap is de-duplicated here, before it lands:
the resource state keeps a hash of (primary key, watermark value) for each row loaded inside
the window, pruned as the window moves. A changed row has a new watermark value, so it is new;
an unchanged re-read row is dropped. The state grows with the rows changed inside one
lookback window (about 60 bytes each, compressed in dlt's state file).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import dlt
import pyarrow as pa

from ingest.sources.watermark_values import order_key, to_text

STATE_KEY = "lookback_seen"


def row_hash(keys: list[Any], cursor: Any) -> str:
    text = json.dumps([to_text(k) for k in keys] + [to_text(cursor)], default=str, separators=(",", ":"))
    return hashlib.blake2b(text.encode(), digest_size=10).hexdigest()


@dataclass
class OverlapFilter:
    """A map step over arrow batches: drops rows already loaded by an earlier run."""

    resource_name: str
    key_columns: list[str]
    cursor_column: str
    span: float
    """The lookback in order_key units (microseconds, days or units)."""
    dropped: int = 0
    _pruned: bool = field(default=False, repr=False)

    def _seen(self) -> dict[str, Any]:
        seen: dict[str, Any] = dlt.current.resource_state(self.resource_name).setdefault(STATE_KEY, {})
        if not self._pruned and seen:
            # the next read starts at (last watermark - span) and the last watermark is the
            # greatest value recorded: older entries can never be read again
            threshold = max(seen.values()) - self.span
            for stale in [h for h, value in seen.items() if value < threshold]:
                del seen[stale]
        self._pruned = True
        return seen

    def __call__(self, batch: Any) -> Any:
        if not isinstance(batch, pa.Table) or batch.num_rows == 0:
            return batch
        seen = self._seen()
        keep = []
        for row in batch.select([*self.key_columns, self.cursor_column]).to_pylist():
            cursor = row[self.cursor_column]
            digest = row_hash([row[k] for k in self.key_columns], cursor)
            fresh = digest not in seen
            if fresh and cursor is not None:
                seen[digest] = order_key(cursor)
            keep.append(fresh)
        self.dropped += keep.count(False)
        return batch.filter(pa.array(keep, type=pa.bool_()))

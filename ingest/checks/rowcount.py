"""Row-count validation: the source's count for the same window as the load, against the
rows dlt reports and the rows in the parquet footers of the files just written.

For INCREMENTAL the window is (watermark_before, watermark_after]. dlt reads with `>=` and
drops boundary rows it has already seen, so rows equal to watermark_before may or may not be
new: the expected count is a range, count(col > before) .. count(col >= before), both bounded
by col <= after. Rows inserted after the load with a watermark inside the window make the
source count higher: that is the drift the tolerance is for.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Engine

DEFAULT_TOLERANCE_PCT = 1.0


@dataclass
class RowCountCheck:
    status: str
    """ok | mismatch | skipped"""
    loaded_rows: int
    landed_rows: int | None = None
    source_min: int | None = None
    source_max: int | None = None
    tolerance_pct: float = DEFAULT_TOLERANCE_PCT
    diff_pct: float | None = None
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def source_count_range(engine: Engine, schema: str | None, table: str, watermark_column: str | None,
                       before: Any, after: Any, where: Any = (), max_before: Any = None,
                       from_table: sa.Table | None = None) -> tuple[int, int]:
    """(min, max) rows the source holds for the load's window. `where`: the job's filters
    (clauses on the reflected table); `max_before`: the lookback's start, from which re-read
    rows committed late may also have been loaded; `from_table`: the reflected table the
    clauses refer to."""
    columns = [sa.column(watermark_column)] if watermark_column else []
    source = from_table if from_table is not None else sa.table(table, *columns, schema=schema)
    base = sa.select(sa.func.count()).select_from(source).where(*where)
    with engine.connect() as conn:
        if not watermark_column:
            total = conn.execute(base).scalar_one()
            return total, total
        column = source.c[watermark_column]
        upper = column <= after if after is not None else sa.true()
        if before is None:
            total = conn.execute(base.where(column.isnot(None), upper)).scalar_one()
            return total, total
        # one scan of the window for both bounds (the widest window, counted two ways)
        lowest = before if max_before is None else max_before
        both = sa.select(sa.func.count(sa.case((column > before, 1))), sa.func.count()) \
            .select_from(source).where(*where).where(column >= lowest, upper)
        low, high = conn.execute(both).one()
        return int(low), int(high)


def parquet_rows(fs: Any, paths: Iterable[str]) -> int:
    """Rows in the parquet footers of `paths` (only the footers are read)."""
    import pyarrow.parquet as pq

    total = 0
    for path in paths:
        with fs.open(path, "rb") as handle:
            total += pq.ParquetFile(handle).metadata.num_rows
    return total


def evaluate(loaded: int, landed: int | None, source_min: int, source_max: int,
             tolerance_pct: float) -> RowCountCheck:
    check = RowCountCheck(status="ok", loaded_rows=loaded, landed_rows=landed, source_min=source_min,
                          source_max=source_max, tolerance_pct=tolerance_pct)
    if landed is not None and landed != loaded:
        check.status = "mismatch"
        check.message = f"dlt reported {loaded} rows but the parquet files hold {landed}"
        return check
    if source_min <= loaded <= source_max:
        check.diff_pct = 0.0
        return check
    nearest = source_min if loaded < source_min else source_max
    check.diff_pct = round(abs(loaded - nearest) * 100.0 / max(nearest, 1), 4)
    if check.diff_pct > tolerance_pct:
        check.status = "mismatch"
    expected = f"{source_min}" if source_min == source_max else f"{source_min}-{source_max}"
    check.message = f"source has {expected} rows for the window, {loaded} loaded ({check.diff_pct}% off)"
    return check

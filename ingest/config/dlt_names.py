"""Names as dlt sees them. dlt normalises every table name (snake_case: `Orders` -> `orders`,
`sales_` -> `salesx`), so two workbook names that normalise alike are one table for dlt, and
a name in one sheet that normalises like a job's name could have been meant for that job.
This asks dlt's own naming convention rather than copying its rules."""

from __future__ import annotations

from dlt.common.normalizers.naming.snake_case import NamingConvention

_NAMING = NamingConvention()


def dlt_name(text: str) -> str:
    """`text` as dlt names a table; empty text stays empty."""
    text = text.strip()
    return _NAMING.normalize_table_identifier(text) if text else ""


def same_for_dlt(a: str, b: str) -> bool:
    """Whether two names are one name ignoring case or as dlt normalises them."""
    return a.strip().lower() == b.strip().lower() or (bool(a.strip()) and dlt_name(a) == dlt_name(b))

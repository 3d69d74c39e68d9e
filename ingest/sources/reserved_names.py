"""Source column names the app reserves: its own CDC columns (`_cdc_*`, ingest/lake/cdc_columns.py),
its soft-delete flag (`_ingest_*`) and dlt's (`_dlt_*`). A source column named like them would
collide with them in the lake (README "What the app will not do without asking"): the table's
job fails with ReservedColumnError naming it (ingest/sources/sql.py for SQL loads and `check`,
ingest/sources/postgres_cdc/connection_load.py for CDC)."""

from __future__ import annotations

from typing import Iterable

from ingest.config.dlt_names import dlt_name
from ingest.lake.cdc_columns import PREFIX as CDC_PREFIX

RESERVED_PREFIXES = (CDC_PREFIX, "_ingest_", "_dlt_")


def reserved_columns(names: Iterable[str]) -> list[str]:
    """The names among `names` that start with a reserved prefix ignoring case or as dlt
    normalises them (`_CDC_Op`, `_Dlt Id`), as the source spells them."""
    return [name for name in names
            if name.strip().lower().startswith(RESERVED_PREFIXES) or dlt_name(name).startswith(RESERVED_PREFIXES)]


def reserved_column_message(table: str, names: Iterable[str]) -> str:
    """The error of a table with reserved columns: which, and the fix."""
    listed = ", ".join(repr(n) for n in names)
    prefixes = ", ".join(p + "*" for p in RESERVED_PREFIXES)
    return (f"{table} has column(s) {listed} named like the app's own columns ({prefixes}, any case): they would"
            " collide with them in the lake; rename or drop the column at the source (or read the table through"
            " a view that renames it)")

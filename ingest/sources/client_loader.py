"""dlt's TableLoader on the client path (SQL Server, Oracle): it knows the type of each
`<column>_nanos` companion (client_types.py), and it names the column when the driver cannot
convert a date it fetched.

- dlt's pyarrow backend types a cursor column it has no hint for by its values (int64, or null
  for a batch of NULLs): the companions' hints are added to the loader's columns.
- python-oracledb raises `ValueError: year -4712 is out of range` (Python's datetime starts at
  year 1; Oracle's DATE at -4712) from inside the fetch, naming no column. On such an error the
  loader asks the source which of the table's date and timestamp columns holds a value before
  year 1 (a count per column: no value is fetched) and fails naming it."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterator

import sqlalchemy as sa

from ingest.core.errors import SourceValueError
from ingest.sources.client_types import ClientPlan, companion_hints, value_error

YEAR_ONE = datetime(1, 1, 1)
DATED = frozenset({"date", "timestamp"})


def client_loader(plans: dict[str, ClientPlan]) -> type | None:
    """The TableLoader class for a table with these plans; None when there are none (another
    dialect: dlt's own loader)."""
    if not plans:
        return None
    from dlt.sources.sql_database.helpers import TableLoader

    extra = companion_hints(plans)
    dated = [name for name, plan in plans.items() if plan.hint["data_type"] in DATED and plan.select is None]

    class ClientTableLoader(TableLoader):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.columns = {**self.columns, **extra}

        def load_rows(self, backend_kwargs: dict[str, Any] | None = None) -> Iterator[Any]:
            try:
                yield from super().load_rows(backend_kwargs)
            except (ValueError, OverflowError) as exc:
                named = dates_before_year_one(self.engine, self.table, {n: plans[n] for n in dated})
                if named is None:
                    raise
                raise named from exc

    return ClientTableLoader


def dates_before_year_one(engine: sa.Engine, table: sa.Table, plans: dict[str, ClientPlan]) -> SourceValueError | None:
    """The error naming each column of `plans` that holds a value before year 1; None when none does."""
    found = []
    with engine.connect() as connection:
        for name, plan in plans.items():
            column = table.c[name]
            query = (sa.select(sa.func.count()).select_from(table)
                     .where(column < sa.bindparam("year_one", YEAR_ONE, type_=sa.DateTime())))
            count = connection.execute(query).scalar_one()
            if count:
                found.append((plan, count))
    if not found:
        return None
    plan, count = found[0]
    others = "".join(f"; column {p.column.name} too ({n})" for p, n in found[1:])
    name = plan.column.name
    return value_error(plan.column, f"holds {count} value(s) before year 1, which the driver cannot return and no"
                                    " lake date or timestamp holds: read a view that maps them (e.g. CASE WHEN"
                                    f" {name} < DATE '0001-01-01' THEN NULL ELSE {name} END){others}")

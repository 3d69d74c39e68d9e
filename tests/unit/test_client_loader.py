"""The client path's TableLoader (ingest/sources/client_loader.py): a date the driver cannot
convert is named by its column.

No Oracle server runs here: python-oracledb's `ValueError: year -4712 is out of range` is played
by SQLite's own DATETIME conversion, which raises ValueError for a stored '-4712-01-01' as
SQLAlchemy fetches it; the fetch runs through dlt's sql_table as the load runs it, and the
loader's diagnosis query runs on SQLite."""

from __future__ import annotations

import dlt
import pytest
import sqlalchemy as sa
from dlt.sources.sql_database import sql_table

from ingest.core.errors import SourceValueError
from ingest.sources import oracle_types
from ingest.sources.client_loader import client_loader
from ingest.sources.client_types import SourceColumn


def _source(tmp_path, values: list[str]) -> sa.Engine:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'source.db'}")
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE events (id INTEGER PRIMARY KEY, booked DATETIME, shipped DATETIME)"))
        for number, value in enumerate(values, start=1):
            connection.execute(sa.text("INSERT INTO events VALUES (:id, :booked, '2024-01-01 00:00:00.000000')"),
                               {"id": number, "booked": value})
    return engine


def _load(tmp_path, engine):
    plans = {name: oracle_types.plan_column(SourceColumn(name, kind)) for name, kind in
             (("id", "number"), ("booked", "date"), ("shipped", "date"))}
    resource = sql_table(credentials=engine, table="events", backend="pyarrow", table_loader_class=client_loader(plans))
    return list(resource)


def test_a_date_before_year_one_fails_naming_its_column(tmp_path):
    engine = _source(tmp_path, ["2024-03-01 00:00:00.000000", "-4712-01-01 00:00:00.000000"])
    with pytest.raises(Exception) as raised:
        _load(tmp_path, engine)
    error = raised.value
    while error is not None and not isinstance(error, SourceValueError):  # dlt wraps the resource's error
        error = error.__cause__ or error.__context__
    assert error is not None, raised.value
    assert str(error).startswith("column booked (date) holds 1 value(s) before year 1, which the driver cannot"
                                 " return")
    assert isinstance(error.__cause__, ValueError)


def test_dates_the_driver_converts_load(tmp_path):
    engine = _source(tmp_path, ["2024-03-01 00:00:00.000000", "0001-01-01 00:00:00.000000"])
    tables = _load(tmp_path, engine)
    assert sum(t.num_rows for t in tables) == 2

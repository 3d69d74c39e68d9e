"""A CDC snapshot keeps booleans: the snapshot reads every column as text (`true::text` is
'true') while the log sends boolout's 't'; both must land as True. Found while testing issue 32
case 7: every snapshot landed True as False. Real PostgreSQL."""

from __future__ import annotations

from tests.cdc_helpers import cdc_job, delta_rows, load, source_rows, sql


def _lake_equals_source(postgres, settings, schema):
    names, expected = source_rows(postgres, schema, "flags")
    assert sorted(delta_rows(settings, "flags", names), key=str) == sorted(expected, key=str)


def test_booleans_land_as_the_source_holds_them(postgres, settings, cdc):
    schema, connection = cdc
    sql(postgres, f"CREATE TABLE {schema}.flags (id int PRIMARY KEY, flag boolean);"
                  f" INSERT INTO {schema}.flags VALUES (1, true), (2, false), (3, NULL)")
    job = cdc_job("flags", connection, schema, "flags")
    assert load([job], settings)["flags"].succeeded
    _lake_equals_source(postgres, settings, schema)  # the snapshot
    sql(postgres, f"INSERT INTO {schema}.flags VALUES (4, true); UPDATE {schema}.flags SET flag = true WHERE id = 2")
    assert load([job], settings, 2)["flags"].succeeded
    _lake_equals_source(postgres, settings, schema)  # the log

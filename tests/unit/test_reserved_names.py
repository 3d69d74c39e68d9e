"""Which source column names are reserved (ingest/sources/reserved_names.py): the
app's `_cdc_*` and `_ingest_*` columns and dlt's `_dlt_*`, ignoring case and as dlt normalises a
column name. Pure functions: no source needed."""

from ingest.sources.reserved_names import reserved_column_message, reserved_columns


def test_reserved_names_ignore_case_and_follow_dlt_normalisation():
    names = ["id", "_cdc_op", "_CDC_Deleted", "_ingest_deleted", "_dlt_id", "_Dlt Load Id", "cdc_op", "ingest_x",
             "dlt_id", "x_cdc_op", "_cdcop"]
    assert reserved_columns(names) == ["_cdc_op", "_CDC_Deleted", "_ingest_deleted", "_dlt_id", "_Dlt Load Id"]


def test_the_message_names_the_table_the_columns_and_the_fix():
    message = reserved_column_message("s.b", ["_cdc_op"])
    assert "s.b" in message and "'_cdc_op'" in message and "rename or drop the column at the source" in message

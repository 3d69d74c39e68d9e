"""`python -m ingest check` reflects a job's table once without the job's named columns, then
runs the loader's checks on it again (ingest/sources/connection_check.py: check_job). That second
pass must plan each column as the load does, from the catalog: it used to plan from SQLAlchemy's
reflection alone, so an Oracle table with an XMLType column (reflected as NullType) was reported
FAIL ("has no exact form in the lake") although its load works.

No Oracle server runs here: the table is built as SQLAlchemy reflects it and the catalog rows
as all_tab_columns gives them (as tests/unit/test_client_types.py does)."""

from __future__ import annotations

from dataclasses import replace

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import oracle

from ingest.config.model import JobConfig, LoadType, SourceType
from ingest.core.errors import SourceValueError
from ingest.sources.client_types import SourceColumn
from ingest.sources.sql import prepare_again, prepare_table


def _oracle_table() -> sa.Table:
    return sa.Table("orders", sa.MetaData(schema="sales"), sa.Column("id", oracle.NUMBER(10, 0)),
                    sa.Column("doc", sa.types.NullType()), sa.Column("span", sa.types.NullType()),
                    sa.Column("updated_at", oracle.TIMESTAMP()))


CATALOG = {"id": SourceColumn("id", "number", 10, 0), "doc": SourceColumn("doc", "xmltype"),
           "span": SourceColumn("span", "interval year to month"),
           "updated_at": SourceColumn("updated_at", "timestamp", None, 6)}

JOB = JobConfig(job_name="orders", enabled=True, source_type=SourceType.ORACLE, connection="ora", source_schema="sales",
                source_table="orders", target_table="orders", load_type=LoadType.INCREMENTAL,
                watermark_column="UPDATED_AT", primary_key=("ID",))


def test_second_pass_plans_from_the_catalog_like_the_load():
    bare = prepare_table(_oracle_table(), replace(JOB, watermark_column=None, primary_key=()), "oracle", {}, CATALOG)
    again = prepare_again(bare, JOB, "oracle")
    assert again.watermark_column == "updated_at" and again.primary_key == ("id",)
    assert again.client_plans["doc"].rule.types == "XMLType"
    assert again.client_plans["span"].hint["data_type"] == "text"


def test_without_the_catalog_the_same_table_fails_as_check_used_to_report_it():
    bare = prepare_table(_oracle_table(), replace(JOB, watermark_column=None, primary_key=()), "oracle", {}, CATALOG)
    with pytest.raises(SourceValueError, match="column doc .* has no exact form in the lake"):
        prepare_table(bare.table, JOB, "oracle", bare.read_plans)

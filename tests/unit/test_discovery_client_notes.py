"""discover's type notes for SQL Server and Oracle come from the same client plans the load
uses (ingest/sources/discovery/type_notes.py over mssql_types.py / oracle_types.py), from the
catalog's declared type when there is one: a proposal says what will not land as declared.

No SQL Server or Oracle server runs here: columns are built as the catalog query and
SQLAlchemy's reflection give them (as tests/unit/test_client_types.py does)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mssql, oracle

from ingest.sources.client_types import SourceColumn
from ingest.sources.discovery.catalog import CatalogColumn
from ingest.sources.discovery.type_notes import type_note


def column(name, sa_type, declared=None) -> CatalogColumn:
    return CatalogColumn(name, sa_type, True, client=declared)


@pytest.mark.parametrize("catalog_column, note", [
    (column("id", sa.INTEGER(), SourceColumn("id", "int")), None),
    (column("name", sa.NVARCHAR(50), SourceColumn("name", "nvarchar")), None),
    (column("price", mssql.MONEY(), SourceColumn("price", "money")), None),
    (column("changed", mssql.DATETIME2(7), SourceColumn("changed", "datetime2", None, 7)),
     "column changed (datetime2(7)) lands as timestamp to the microsecond, with changed_nanos holding the"
     " nanoseconds past it"),
    (column("place", sa.types.NullType(), SourceColumn("place", "geography")),
     "column place (geography) lands as text: EWKT: the SRID and the WKT with Z and M (`SRID=4326;POINT (4.9 52.37)`)"),
    (column("guid", mssql.UNIQUEIDENTIFIER(), SourceColumn("guid", "uniqueidentifier")),
     "column guid (uniqueidentifier) lands as text: lower-case canonical form (`6f9619ff-8b86-d011-b42d-00c04fc964ff`)"),
])
def test_sqlserver_notes(catalog_column, note):
    assert type_note(catalog_column, "mssql") == note


def test_oracle_xmltype_known_only_to_the_catalog_is_noted_as_text_not_as_unsupported():
    assert type_note(column("doc", sa.types.NullType(), SourceColumn("doc", "xmltype")), "oracle") == \
        "column doc (xmltype) lands as text: the document as Oracle serializes it"


def test_oracle_type_without_exact_form_says_the_job_fails():
    note = type_note(column("shape", sa.types.NullType(), SourceColumn("shape", "sdo_geometry")), "oracle")
    assert note.startswith("column shape (sdo_geometry) has no exact form in the lake")
    assert note.endswith("the job fails before reading until then")


def test_oracle_number_without_precision_from_reflection_alone():
    assert type_note(column("ratio", oracle.NUMBER()), "oracle") == (
        "column ratio (number) lands as text: the exact decimal, positional (`0.000000000000000000001`,"
        " `12345678901234567890123456789012345678`), `Infinity` / `-Infinity`: no decimal type holds 38 digits"
        " at any scale")

"""Exact source types for dlt's sql_table, which it does not keep on its own:

- dlt reflects INTEGER as an unbounded bigint (int4 arrives as int64) and SMALLINT with
  precision 32; `integer_width_hints` gives each integer column its real width.
- connectorx returns NUMERIC(p,s) as decimal(38,10); `ExactTypesConnectorXLoader` (a dlt
  table loader, the extension point sql_table offers) streams connectorx record batches and
  casts each to the reflected arrow types, with pyarrow's safe cast (a value that would lose
  digits raises instead of being changed).
- connectorx marks every arrow field nullable; a NOT NULL column's field is marked required
  (when the batch indeed has no NULL), so dlt does not warn once per batch that the arrow
  schema and its own hints differ on `nullable`.
- a batch that cannot be cast, and connectorx's own errors ("error deserializing column 3",
  a Rust panic), fail the job as SourceValueError naming the column, not a bare backtrace.
"""

from __future__ import annotations

from typing import Any, Dict, Iterator

import re

import pyarrow as pa
import sqlalchemy as sa
from dlt.common.destination import DestinationCapabilitiesContext
from dlt.common.libs.pyarrow import get_py_arrow_datatype
from dlt.sources.sql_database.helpers import ConnectorXTableLoader

from ingest.core.errors import SourceValueError

_CAPS = DestinationCapabilitiesContext.generic_capabilities("parquet")


def integer_width_hints(columns: dict[str, sa.types.TypeEngine]) -> dict[str, dict[str, Any]]:
    """dlt column hints that pin integer columns to their width in bits."""
    hints: dict[str, dict[str, Any]] = {}
    for name, column_type in columns.items():
        if isinstance(column_type, sa.Numeric):  # Oracle's NUMBER is both Numeric and Integer
            continue
        if isinstance(column_type, sa.BigInteger):
            bits = 64
        elif isinstance(column_type, sa.SmallInteger):
            bits = 16
        elif isinstance(column_type, sa.Integer):
            bits = 32
        else:
            continue
        hints[name] = {"name": name, "data_type": "bigint", "precision": bits}
    return hints


def _target_type(hint: dict[str, Any]) -> pa.DataType | None:
    """The arrow type a column must have, for the kinds connectorx gets wrong."""
    data_type = hint.get("data_type")
    if data_type == "bigint" and hint.get("precision"):
        return get_py_arrow_datatype(hint, _CAPS, "UTC")
    if data_type == "decimal" and hint.get("precision"):
        return get_py_arrow_datatype(hint, _CAPS, "UTC")
    return None


class ExactTypesConnectorXLoader(ConnectorXTableLoader):
    """connectorx in arrow_stream mode, each batch cast to the reflected column types."""

    def load_rows(self, backend_kwargs: Dict[str, Any] = None) -> Iterator[Any]:
        kwargs = {"return_type": "arrow_stream", "batch_size": self.chunk_size, **(backend_kwargs or {})}
        targets = {name: t for name, hint in self.columns.items() if (t := _target_type(hint)) is not None}
        required = {name for name, hint in self.columns.items() if hint.get("nullable") is False}
        try:
            for table in super().load_rows(kwargs):
                yield _cast(table, targets, required)
        except (KeyboardInterrupt, SystemExit, GeneratorExit):
            raise
        except BaseException as exc:  # pyo3's PanicException is a BaseException
            named = _named_reader_error(exc, [c.name for c in self.table.columns], self.table.name)
            if named is not None:
                raise named from exc
            if not isinstance(exc, Exception):  # a panic would pass every `except Exception` above
                raise RuntimeError(f"connectorx: {exc}") from exc
            raise


def _cast(table: pa.Table, targets: dict[str, pa.DataType], required: frozenset[str] | set[str] = frozenset()) -> pa.Table:
    fields = []
    changed = False
    for field in table.schema:
        target = targets.get(field.name)
        if target is not None and field.type != target:
            field = field.with_type(target)
            changed = True
        if field.name in required and field.nullable and table.column(field.name).null_count == 0:
            field = field.with_nullable(False)
            changed = True
        fields.append(field)
    if not changed:
        return table
    try:
        return table.cast(pa.schema(fields, metadata=table.schema.metadata), safe=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise _cast_error(table, fields, exc) from exc


def _cast_error(table: pa.Table, fields: list[pa.Field], exc: Exception) -> SourceValueError:
    """The column whose cast failed, found by casting each column alone."""
    for field in fields:
        column = table.column(field.name)
        if column.type == field.type:
            continue
        try:
            column.cast(field.type, safe=True)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as column_exc:
            return SourceValueError(f"column {field.name}: a value read as {column.type} does not fit"
                                    f" {field.type} exactly ({column_exc})")
    return SourceValueError(f"a batch could not be cast to the reflected types ({exc})")


_COLUMN_INDEX = re.compile(r"column (\d+)")


def _named_reader_error(exc: BaseException, columns: list[str], table: str) -> SourceValueError | None:
    """connectorx's deserializing error or panic, with the column it names by position; None
    for errors that are not about a value or a type (connection, authentication)."""
    text = " ".join(str(exc).split())
    if "SqlState(" in text:  # the server's own error (permission, missing table): classify.py reads it
        return None
    is_panic = type(exc).__name__ == "PanicException"
    found = _COLUMN_INDEX.search(text)
    if not is_panic and (found is None or "deserializ" not in text):
        return None
    where = f"column {columns[int(found.group(1))]}" if found and int(found.group(1)) < len(columns) else "a column"
    return SourceValueError(f"table {table}: connectorx could not read {where}: {text[:300]}")

"""A batch's decoded changes on disk, so that a large transaction's memory is bounded by a
setting (INGEST_CDC_SPILL_BLOCK_CHANGES), not by the transaction.

Each table's change rows are buffered as Python rows up to `block` rows, then written as one
arrow record batch to an Arrow IPC stream file (lz4) in the batch's scratch folder; a relation
message that changes the table's columns starts a new file. Read back block by block, each
cast to the columns of the batch's last relation (a column added mid-batch is NULL before it).
The folder lives in dlt's working folder (`scratch_dir`); the load removes it once the batch is
landed (or failed), and every run removes what a killed run left before reading the slot. It is
never needed across runs: dlt's load package holds what was extracted from it.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pyarrow as pa

from ingest.core.errors import CdcSlotError
from ingest.sources.postgres_cdc.values import TypedColumn

COMPRESSION = "lz4"


def arrow_schema(hints: list[dict[str, Any]], capabilities: Any) -> pa.Schema:
    """The arrow schema dlt itself gives these column hints for the destination's `capabilities`
    (its own type mapping: the snapshot and the change batches land in the types of every load)."""
    from dlt.common.libs.pyarrow import get_py_arrow_datatype

    return pa.schema([pa.field(h["name"], get_py_arrow_datatype(h, capabilities, "UTC"), nullable=h.get("nullable", True))
                      for h in hints])


@dataclass
class TableSpill:
    """One table's change rows of a batch, in commit order."""

    folder: Path
    name: str
    block: int
    rows: int = 0
    files: list[tuple[Path, pa.Schema]] = field(default_factory=list)
    _buffer: list[dict[str, Any]] = field(default_factory=list)
    _writer: Any = None
    _schema: pa.Schema | None = None

    def append(self, row: dict[str, Any], schema: pa.Schema) -> None:
        """Add a change row; `schema`: its columns (the relation's, then the `_cdc_*` ones)."""
        if self._schema is None or not schema.equals(self._schema):
            self._flush()
            self._close_writer()
            self._schema = schema
        self._buffer.append(row)
        self.rows += 1
        if len(self._buffer) >= self.block:
            self._flush()

    def close(self) -> None:
        self._flush()
        self._close_writer()

    def schema(self) -> pa.Schema:
        """Every column of the batch in order of appearance, typed as last seen."""
        fields: dict[str, pa.Field] = {}
        for _path, schema in self.files:
            for column in schema:
                fields[column.name] = column
        return pa.schema(list(fields.values()))

    def batches(self, columns: list[str] | None = None) -> Iterator[pa.RecordBatch]:
        """The rows block by block, in commit order, with the batch's columns (or `columns`)."""
        self.close()
        target = self.schema()
        if columns is not None:
            target = pa.schema([target.field(c) for c in columns])
        for path, _schema in self.files:
            with pa.OSFile(str(path), "rb") as source:
                for batch in pa.ipc.open_stream(source):
                    yield self._conform(batch, target)

    def _conform(self, batch: pa.RecordBatch, target: pa.Schema) -> pa.RecordBatch:
        arrays = []
        for column in target:
            index = batch.schema.get_field_index(column.name)
            if index < 0:
                arrays.append(pa.nulls(batch.num_rows, column.type))
                continue
            array = batch.column(index)
            try:
                arrays.append(array if array.type == column.type else array.cast(column.type))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise CdcSlotError(f"table {self.name}: column {column.name} changed type within one batch"
                                   f" ({array.type} -> {column.type}) and its earlier values do not convert: {exc};"
                                   " run `python -m ingest cdc drop` for the connection so that the next run reloads"
                                   " it from a new snapshot") from None
        return pa.RecordBatch.from_arrays(arrays, schema=target)

    def _flush(self) -> None:
        if not self._buffer:
            return
        assert self._schema is not None
        try:
            batch = pa.RecordBatch.from_pylist(self._buffer, schema=self._schema)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
            raise CdcSlotError(f"table {self.name}: a change does not fit its column types: {exc}") from None
        if self._writer is None:
            path = self.folder / f"{len(self.files):05d}.arrow"
            options = pa.ipc.IpcWriteOptions(compression=COMPRESSION)
            self._writer = pa.ipc.new_stream(str(path), self._schema, options=options)
            self.files.append((path, self._schema))
        self._writer.write_batch(batch)
        self._buffer = []

    def _close_writer(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


@dataclass
class Spill:
    """The scratch folder of one batch: a TableSpill per table."""

    folder: Path
    block: int
    tables: dict[tuple[str, str], TableSpill] = field(default_factory=dict)

    def table(self, schema: str, table: str) -> TableSpill:
        spill = self.tables.get((schema, table))
        if spill is None:
            sub = self.folder / f"{len(self.tables):04d}"
            sub.mkdir(parents=True, exist_ok=True)
            spill = self.tables[(schema, table)] = TableSpill(sub, f"{schema}.{table}", self.block)
        return spill

    def close(self) -> None:
        for spill in self.tables.values():
            spill.close()


def row_schema(columns: list[TypedColumn], meta: list[dict[str, Any]], capabilities: Any) -> pa.Schema:
    return arrow_schema([c.hint for c in columns] + meta, capabilities)


def clear(folder: Path) -> None:
    """Remove a scratch folder (a batch's, or all a killed run left)."""
    shutil.rmtree(folder, ignore_errors=True)

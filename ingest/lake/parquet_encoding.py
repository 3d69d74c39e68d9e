"""Dictionary encoding in the parquet files dlt writes from arrow batches (every SQL load), only
for the columns where it pays.

pyarrow dictionary-encodes every column unless told otherwise. For a column of mostly distinct
values (keys, amounts, timestamps, free text) that means hashing each value into a dictionary
that is then written next to the data or abandoned when it outgrows its page: slower, and the
file grows. On the bench table (5M rows, 7 columns, batches of 100k) pyarrow wrote 175 MB in
1.64 s with every column dictionary-encoded, 129 MB in 0.73 s with only the two low-cardinality
ones; a whole FULL load used ~15% less CPU and its lake shrank 167 -> 123 MB.

dlt's ArrowToParquetWriter takes no such option (its parquet format settings pass a fixed set of
ParquetWriter options), so `install()` adds one decision to that writer: when it opens a file,
the columns whose values repeat in the first rows it was handed get dictionary encoding, the
others are written plain. The files stay standard parquet; only the encoding of each column
chunk differs. dlt is pinned (requirements.txt) and tests/unit/test_parquet_encoding.py checks
the files keep every other property dlt gives them.
"""

from __future__ import annotations

from typing import Any, Sequence

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from dlt.common.data_writers.writers import ArrowToParquetWriter

SAMPLE_ROWS = 10_000
MAX_DISTINCT_SHARE = 0.5

_DLT_WRITE_DATA = ArrowToParquetWriter.write_data
_DLT_CREATE_WRITER = ArrowToParquetWriter._create_writer
_CONTENT_DEFINED_CHUNKING = int(pa.__version__.split(".")[0]) >= 21  # as dlt checks it


def dictionary_columns(items: Sequence[pa.Table | pa.RecordBatch]) -> list[str]:
    """The top-level columns of `items` (one file's first buffer) worth a dictionary: values
    that already repeat within the first `SAMPLE_ROWS` rows (at most `MAX_DISTINCT_SHARE` of them
    distinct), or already dictionary-typed. Nested columns are left plain. A guess that turns
    out wrong costs little: pyarrow falls back to plain once a dictionary outgrows its page."""
    if not items:
        return []
    sample = _first_rows(items, SAMPLE_ROWS)
    rows = sample.num_rows
    chosen = []
    for field, column in zip(sample.schema, sample.columns):
        if pa.types.is_dictionary(field.type):
            chosen.append(field.name)
        elif rows and not pa.types.is_nested(field.type) and \
                pc.count_distinct(column, mode="all").as_py() <= MAX_DISTINCT_SHARE * rows:
            chosen.append(field.name)
    return chosen


def _first_rows(items: Sequence[pa.Table | pa.RecordBatch], limit: int) -> pa.Table:
    parts, rows = [], 0
    for item in items:
        part = item.slice(0, limit - rows)
        parts.append(pa.Table.from_batches([part]) if isinstance(part, pa.RecordBatch) else part)
        rows += part.num_rows
        if rows >= limit:
            break
    return pa.concat_tables(parts)


def _write_data(self: ArrowToParquetWriter, items: Sequence[Any]) -> None:
    if self.writer is None and items:  # dlt opens the file inside this call and clears `items`
        self._ingest_dictionary_columns = dictionary_columns(list(items))
    _DLT_WRITE_DATA(self, items)


def _create_writer(self: ArrowToParquetWriter, schema: pa.Schema) -> pq.ParquetWriter:
    """dlt's own ParquetWriter options (dlt/common/data_writers/writers.py, ParquetDataWriter),
    plus `use_dictionary`."""
    parquet_format = self.parquet_format
    options: dict[str, Any] = {
        "flavor": parquet_format.flavor,
        "version": parquet_format.version,
        "compression": parquet_format.compression,
        "data_page_size": parquet_format.data_page_size,
        "coerce_timestamps": parquet_format.coerce_timestamps,
        "allow_truncated_timestamps": parquet_format.allow_truncated_timestamps,
        "use_compliant_nested_type": parquet_format.use_compliant_nested_type,
        "write_page_index": parquet_format.write_page_index,
    }
    if _CONTENT_DEFINED_CHUNKING:
        options["use_content_defined_chunking"] = parquet_format.use_content_defined_chunking
    return pq.ParquetWriter(self._f, schema, use_dictionary=getattr(self, "_ingest_dictionary_columns", True),
                            **options)


def install() -> None:
    """Make dlt's arrow-to-parquet writer choose dictionary columns (idempotent)."""
    ArrowToParquetWriter.write_data = _write_data
    ArrowToParquetWriter._create_writer = _create_writer


def uninstall() -> None:
    """dlt's writer as it ships (tests compare the two)."""
    ArrowToParquetWriter.write_data = _DLT_WRITE_DATA
    ArrowToParquetWriter._create_writer = _DLT_CREATE_WRITER

"""Reading a chunk back from its staging folder keeps memory flat: the commit of a chunked load
streams every staged file through the job's resource, so reading one must not hold the whole
file. (pyarrow's ParquetFile pre-buffers by default: it reads ahead every row group the
iteration will ask for and keeps them, which made the commit's memory grow with the chunk.)"""

from __future__ import annotations

import os
import tracemalloc

import fsspec
import pyarrow as pa
import pytest

from ingest.core.errors import ChunkedLoadError
from ingest.lake.chunk_staging import ROW_GROUP_ROWS, ChunkStage


def test_reading_a_staged_chunk_holds_about_one_row_group_not_the_file(tmp_path):
    stage = ChunkStage(fsspec.filesystem("file"), str(tmp_path / "_ingest_chunks" / "orders"))
    writer = stage.writer("c000")
    row_groups = 8
    for group in range(row_groups):  # random text: the file is about as big as the data
        values = pa.array([os.urandom(16).hex() for _ in range(ROW_GROUP_ROWS)])
        writer.write(pa.table({"id": pa.array(range(group * ROW_GROUP_ROWS, (group + 1) * ROW_GROUP_ROWS)),
                               "note": values}))
    writer.close()
    record = {"attempt": writer.attempt, "files": writer.files, "rows": writer.rows}
    file_size = sum(os.path.getsize(f"{stage.folder}/c000/{writer.attempt}/{name}") for name in writer.files)

    tracemalloc.start()  # the staged file is read through fsspec's Python file: its reads are Python bytes
    try:
        rows = sum(table.num_rows for table in stage.tables("c000", record, 65_536))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert rows == row_groups * ROW_GROUP_ROWS
    assert peak < file_size / 3, f"reading held {peak / 2**20:.0f} MB of a {file_size / 2**20:.0f} MB file"


@pytest.mark.parametrize("record", [{"attempt": "../../../elsewhere", "files": ["part-00000.parquet"]},
                                    {"attempt": "0123456789ab", "files": ["../../../../secrets/part-00000.parquet"]},
                                    {"attempt": "0123456789ab", "files": ["/etc/passwd"]}])
def test_a_done_record_naming_paths_outside_the_staging_is_refused(tmp_path, record):
    """done.json comes back from the lake: whoever can write there must not make the commit read
    (and publish) a file outside the chunk's own folder."""
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    stage = ChunkStage(fsspec.filesystem("file"), str(tmp_path / "lake" / "_ingest_chunks" / "orders"))
    with pytest.raises(ChunkedLoadError, match="not staged parts"):
        next(stage.tables("c000", record, 1000))

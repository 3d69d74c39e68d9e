"""Dictionary encoding only where it pays, in the parquet files dlt writes from arrow batches
(ingest/lake/parquet_encoding.py): the choice per column, and real dlt loads into a local lake that
keep every other property dlt gives its files."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import dlt
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ingest.lake import parquet_encoding

ROWS = 20_000


def sample_table(rows: int = ROWS) -> pa.Table:
    return pa.table({
        "id": pa.array(range(rows), pa.int64()),
        "status": pa.array([("new", "paid", "shipped")[i % 3] for i in range(rows)]),
        "amount": pa.array([Decimal(i) / 100 for i in range(rows)], pa.decimal128(12, 2)),
        "empty": pa.nulls(rows, pa.string()),
        "region": pa.array([("north", "south")[i % 2] for i in range(rows)]).dictionary_encode(),
        "tags": pa.array([[i % 5] for i in range(rows)], pa.list_(pa.int32())),
    })


def test_only_columns_with_few_distinct_values_get_a_dictionary():
    table = sample_table()
    halves = [table.slice(0, ROWS // 2).combine_chunks(), table.slice(ROWS // 2)]  # a buffer of two items
    assert parquet_encoding.dictionary_columns(halves) == ["status", "empty", "region"]
    assert parquet_encoding.dictionary_columns([]) == []


def test_the_share_of_distinct_values_in_the_first_rows_decides():
    rows = 1000
    at_limit = pa.table({"c": pa.array([i % 500 for i in range(rows)])})  # half of them distinct
    above = pa.table({"c": pa.array([i % 501 for i in range(rows)])})
    assert parquet_encoding.dictionary_columns([at_limit]) == ["c"]
    assert parquet_encoding.dictionary_columns([above]) == []
    sample = parquet_encoding.SAMPLE_ROWS
    repeats_late = pa.table({"c": pa.array(list(range(sample)) + [0] * sample * 3)})
    assert parquet_encoding.dictionary_columns([repeats_late.to_batches()[0]]) == []  # only the sample counts


def _load(tmp_path: Path, name: str) -> pq.ParquetFile:
    table = sample_table()
    pipeline = dlt.pipeline(pipeline_name=f"enc_{name}", pipelines_dir=str(tmp_path / "pipelines"),
                            destination=dlt.destinations.filesystem((tmp_path / name).as_uri()), dataset_name="raw")
    pipeline.run(dlt.resource([table], name="orders"), loader_file_format="parquet")
    (path,) = (tmp_path / name / "raw" / "orders").glob("*.parquet")
    return pq.ParquetFile(path)


def _encodings(parquet: pq.ParquetFile) -> dict[str, set[str]]:
    row_group = parquet.metadata.row_group(0)
    return {row_group.column(i).path_in_schema: set(row_group.column(i).encodings)
            for i in range(row_group.num_columns)}


@pytest.fixture
def dlt_as_shipped():
    parquet_encoding.uninstall()
    yield
    parquet_encoding.install()


def test_every_load_runs_with_the_decision_installed():
    from dlt.common.data_writers.writers import ArrowToParquetWriter

    import ingest.load  # noqa: F401  (installs it on import: every job goes through it)

    assert ArrowToParquetWriter._create_writer is parquet_encoding._create_writer
    assert ArrowToParquetWriter.write_data is parquet_encoding._write_data


def test_a_dlt_load_writes_dictionaries_only_where_chosen(tmp_path):
    parquet_encoding.install()
    parquet = _load(tmp_path, "chosen")
    encodings = _encodings(parquet)
    dictionary = {column for column, kinds in encodings.items() if "RLE_DICTIONARY" in kinds}
    # dlt adds _dlt_load_id (one value) and _dlt_id (unique) to the batches it writes
    assert {"status", "empty", "region"} <= dictionary
    assert not dictionary & {"id", "amount", "tags.list.element", "_dlt_id"}
    assert parquet.read().column("status").to_pylist()[:4] == ["new", "paid", "shipped", "new"]


def test_the_files_keep_dlts_other_properties(tmp_path, dlt_as_shipped):
    shipped = _load(tmp_path, "shipped")
    parquet_encoding.install()
    chosen = _load(tmp_path, "chosen")

    assert _encodings(shipped)["id"] != _encodings(chosen)["id"]  # the one thing that differs
    assert chosen.metadata.format_version == shipped.metadata.format_version
    assert chosen.schema_arrow.equals(shipped.schema_arrow)
    for i in range(shipped.metadata.row_group(0).num_columns):
        assert chosen.metadata.row_group(0).column(i).compression == \
            shipped.metadata.row_group(0).column(i).compression
    columns = [c for c in shipped.schema_arrow.names if c not in ("_dlt_load_id", "_dlt_id")]
    assert chosen.read(columns=columns).equals(shipped.read(columns=columns))

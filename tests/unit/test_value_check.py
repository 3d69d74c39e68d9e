"""The value check's two sides and their comparison (ingest/checks/values.py): footers of real
parquet files written here, and the mismatches it names. The source side runs against a real
PostgreSQL in tests/integration/test_type_matrix.py."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq

from ingest.checks.values import ColumnStats, compare, lake_stats


def test_lake_stats_come_from_the_footers_of_every_file(tmp_path):
    first = pa.table({"amount": pa.array([Decimal("1.50"), None], pa.decimal128(10, 2)),
                      "at": pa.array([datetime(2024, 1, 1, tzinfo=timezone.utc), None], pa.timestamp("us", "UTC")),
                      "tags": pa.array([[1], None], pa.list_(pa.int32()))})
    second = pa.table({"amount": pa.array([Decimal("-3.25")], pa.decimal128(10, 2)),
                       "at": pa.array([datetime(2025, 6, 1, tzinfo=timezone.utc)], pa.timestamp("us", "UTC")),
                       "tags": pa.array([[2]], pa.list_(pa.int32()))})
    pq.write_table(first, tmp_path / "a.parquet", row_group_size=1)
    pq.write_table(second, tmp_path / "b.parquet")
    stats = lake_stats(fsspec.filesystem("file"), [str(tmp_path / "a.parquet"), str(tmp_path / "b.parquet")],
                       ["amount", "at", "tags"])
    assert stats["amount"] == ColumnStats(2, Decimal("-3.25"), Decimal("1.50"))
    assert stats["at"].non_null == 2 and stats["at"].maximum.year == 2025
    assert "tags" not in stats  # a list has no footer entry of its own name: not compared


def test_compare_names_each_column_and_what_differs():
    source = {"amount": ColumnStats(3, Decimal("1.12345678901"), Decimal("9")), "note": ColumnStats(2),
              "at": ColumnStats(1, datetime(2024, 1, 1, 2, tzinfo=timezone.utc),
                                datetime(2024, 1, 1, 2, tzinfo=timezone.utc))}
    lake = {"amount": ColumnStats(3, Decimal("1.1234567890"), Decimal("9.00")), "note": ColumnStats(1),
            "at": ColumnStats(1, datetime(2024, 1, 1, 2), datetime(2024, 1, 1, 2))}
    check = compare(source, lake, {"amount", "at"}, {"amount": "amount", "note": "note", "at": "at"})
    assert check.status == "mismatch"
    assert check.mismatches == ["column amount: min is 1.12345678901 in the source, 1.1234567890 in the lake",
                                "column note: 2 non-null values in the source, 1 in the lake"]


def test_equal_values_in_other_spellings_agree():
    source = {"n": ColumnStats(1, Decimal("1.1"), Decimal("1.1"))}
    lake = {"n": ColumnStats(1, Decimal("1.10"), Decimal("1.10"))}
    assert compare(source, lake, {"n"}, {"n": "n"}).status == "ok"

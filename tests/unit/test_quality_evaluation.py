"""Quality rules on real parquet files in a local folder (fsspec's local filesystem, as dlt's
filesystem client uses it): edge cases the PostgreSQL test does not reach."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ingest.checks import quality
from ingest.config.rules import QualityRule, RuleKind, Severity

FS = fsspec.filesystem("file")


def rule(kind: str, columns=("x",), argument=None, row=2) -> QualityRule:
    return QualityRule("job", RuleKind(kind), tuple(columns), argument, Severity.FAIL,
                       place=f"quality_rules!C{row}", column_place=f"quality_rules!B{row}")


def files(tmp_path, *tables: pa.Table) -> list[str]:
    paths = []
    for index, table in enumerate(tables):
        path = str(tmp_path / f"{index}.parquet")
        pq.write_table(table, path, row_group_size=3)
        paths.append(path)
    return paths


def outcome(results):
    return [(r.status, r.observed) for r in results]


def test_counts_add_up_across_files_and_batches(tmp_path, monkeypatch):
    monkeypatch.setattr(quality, "BATCH_ROWS", 2)
    paths = files(tmp_path, pa.table({"x": [1, None, 3, 1, 5]}), pa.table({"x": [None, 1, 9, 9, 10]}))
    results = quality.evaluate([rule("not_null"), rule("unique"), rule("max", argument="8"),
                                rule("max_null_pct", argument="19.9"), rule("min_rows", (), "10")], FS, paths)
    assert outcome(results) == [("failed", 2), ("failed", 3), ("failed", 3), ("failed", 20.0), ("passed", 10)]
    assert results[1].detail == "3 duplicate rows over 2 repeated keys in 10 rows"
    assert all(r.rows == 10 for r in results)


def test_no_files_means_no_rows(tmp_path):
    results = quality.evaluate([rule("not_null"), rule("min_rows", (), "1"), rule("max_null_pct", argument="0")], FS, [])
    assert outcome(results) == [("passed", 0), ("failed", 0), ("passed", 0.0)]


def test_unique_key_of_two_columns_ignores_keys_with_a_null(tmp_path):
    paths = files(tmp_path, pa.table({"a": [1, 1, 1, None, None], "b": ["x", "x", "y", "z", "z"]}))
    (result,) = quality.evaluate([rule("unique", ("a", "b"))], FS, paths)
    assert (result.status, result.observed) == ("failed", 1)


def test_column_names_are_matched_as_dlt_normalizes_them(tmp_path):
    import dlt

    paths = files(tmp_path, pa.table({"customer_id": [1, None]}))
    normalize = dlt.Schema("x").naming.normalize_identifier
    ok, missing = quality.evaluate([rule("not_null", ("CustomerID",)), rule("not_null", ("nope",), row=7)],
                                   FS, paths, normalize)
    assert (ok.status, ok.observed) == ("failed", 1)
    assert missing.status == "error"
    assert missing.detail == "quality_rules!B7: column 'nope' is not in the table (columns: customer_id)"


def test_bounds_follow_the_column_type(tmp_path):
    table = pa.table({
        "n": pa.array([Decimal("-0.01"), Decimal("5.00"), None], pa.decimal128(10, 2)),
        "d": pa.array([date(2023, 12, 31), date(2024, 1, 1), None]),
        "aware": pa.array([datetime(2030, 1, 1, 0, 0, 1, tzinfo=timezone.utc), None, None], pa.timestamp("us", "UTC")),
        "naive": pa.array([datetime(2029, 12, 31, 23, 0), datetime(2030, 1, 2), None], pa.timestamp("us")),
        "s": pa.array(["b", "a", None]),
        "f": pa.array([0.5, 1.5, None]),
    })
    paths = files(tmp_path, table)
    results = quality.evaluate([
        rule("min", ("n",), "0"), rule("min", ("d",), "2024-01-01"), rule("max", ("aware",), "2030-01-01"),
        rule("max", ("naive",), "2030-01-01T00:00:00+00:00"), rule("min", ("s",), "b"), rule("max", ("f",), "1"),
        rule("min", ("d",), "5", row=9)], FS, paths)
    assert outcome(results[:6]) == [("failed", 1)] * 6
    assert results[6].status == "error" and results[6].detail.startswith("quality_rules!C9: min '5' does not fit column 'd'")


def test_formats_and_values(tmp_path):
    table = pa.table({
        "mail": ["a.b@example.co.uk", "x@y", "Ünï@example.com", None],
        "day": ["2024-02-29", "2023-02-29", "2024-12-01T00:00", None],
        "typed_day": pa.array([date(2024, 1, 1), None, None, None]),
        "id": ["0f8fad5b-d9cb-469f-a165-70867728950e", "0f8fad5b-d9cb-469f-a165-70867728950", None, None],
        "code": pa.array([1, 2, 3, None], pa.int32()),
    })
    paths = files(tmp_path, table)
    results = quality.evaluate([
        rule("format", ("mail",), "email"), rule("format", ("day",), "date"), rule("format", ("typed_day",), "date"),
        rule("format", ("id",), "uuid"), rule("allowed_values", ("code",), "1,2"), rule("regex", ("code",), "[12]"),
        rule("allowed_values", ("code",), "one,two", row=8)], FS, paths)
    assert outcome(results[:6]) == [("failed", 2), ("failed", 2), ("passed", 0), ("failed", 1), ("failed", 1),
                                    ("failed", 1)]
    assert results[6].status == "error" and results[6].place == "quality_rules!C8"


@pytest.mark.parametrize("broken", [b"", b"not parquet at all"])
def test_a_rule_on_an_unreadable_file_raises_for_the_caller(tmp_path, broken):
    """post_load turns this into an `error` result per rule (tests/integration/test_quality_rules.py)."""
    path = tmp_path / "bad.parquet"
    path.write_bytes(broken)
    with pytest.raises(pa.ArrowInvalid):
        quality.evaluate([rule("not_null")], FS, [str(path)])

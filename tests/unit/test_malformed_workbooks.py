"""Dozens of malformed workbooks: each is rejected with sheet!cell errors (or one clear
WorkbookError naming the file), nothing crashes, and valid rows beside bad ones still run."""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile

import openpyxl
import pytest
from openpyxl.utils import get_column_letter

from ingest.config import read_workbook
from ingest.core.errors import WorkbookError
from tests.workbooks import HEADER, job_row, write_workbook

PLACE = re.compile(r"^jobs!([A-Z]{1,3}\d+|\d+:\d+)$")
GOOD = job_row(job_name="good_job", source_table="good_table")

# (id, bad row values) - each row also carries a valid sibling that must survive
BAD_ROWS = [
    ("formula_in_table", {"source_table": "=A1"}),
    ("formula_in_name", {"job_name": '=HYPERLINK("http://x","y")'}),
    ("formula_in_watermark", {"last_watermark": "=NOW()", "load_type": "INCREMENTAL", "watermark_column": "u"}),
    ("sql_injection_table", {"source_table": "orders; DROP TABLE orders"}),
    ("quote_injection_schema", {"source_schema": "public\".\"secret"}),
    ("or_injection_column", {"load_type": "INCREMENTAL", "watermark_column": "x' OR '1'='1"}),
    ("comment_injection_pk", {"primary_key": "id --"}),
    ("newline_in_name", {"job_name": "orders\nrm"}),
    ("space_in_table", {"source_table": "order items"}),
    ("homoglyph_name", {"job_name": "оrders"}),  # Cyrillic о
    ("uppercase_job", {"job_name": "ORDERS"}),
    ("digit_first_job", {"job_name": "1orders"}),
    ("too_long_job", {"job_name": "j" * 64}),
    ("too_long_identifier", {"source_table": "t" * 64}),
    ("enabled_number", {"enabled": 3.5}),
    ("enabled_word", {"enabled": "sometimes"}),
    ("load_type_number", {"load_type": 42}),
    ("load_type_typo", {"load_type": "INCREMENTL"}),
    ("source_type_unknown", {"source_type": "mongodb"}),
    ("watermark_boolean", {"last_watermark": True}),
    ("watermark_text", {"last_watermark": "last tuesday"}),
    ("watermark_nan", {"last_watermark": "NaN"}),
    ("incremental_no_column", {"load_type": "INCREMENTAL"}),
    ("pk_number", {"primary_key": 12}),
    ("pk_duplicate", {"primary_key": "id,id"}),
    ("missing_table", {"source_table": None}),
    ("missing_connection", {"connection": None}),
    ("connection_with_dots", {"connection": "a.b"}),
    ("target_uppercase", {"target_table": "Orders"}),
    ("tolerance_negative", {"rowcount_tolerance_pct": -1}),
    ("tolerance_text", {"rowcount_tolerance_pct": "a lot"}),
    ("huge_cell", {"source_table": "x" * 50_000}),
    ("date_as_name", {"job_name": dt.datetime(2024, 1, 1)}),
]


@pytest.mark.parametrize("case, bad", BAD_ROWS, ids=[c for c, _ in BAD_ROWS])
def test_bad_row_is_rejected_with_its_place_and_the_good_row_survives(tmp_path, case, bad):
    book = write_workbook(tmp_path / "w.xlsx", [GOOD, job_row(**bad)])
    config = read_workbook(book)
    assert config.errors, case
    for issue in config.errors:
        assert PLACE.match(issue.place), issue
        assert len(str(issue)) < 400  # huge cells are not echoed back
    assert [j.job_name for j in config.jobs] == ["good_job"]
    assert 3 in config.invalid_rows


def _book_bytes(build) -> bytes:
    book = openpyxl.Workbook()
    build(book)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _zip_without_workbook() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "not a workbook")
    return buffer.getvalue()


def _zip_bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * (210 * 1024 * 1024))
    return buffer.getvalue()


def _entity_expansion() -> bytes:
    data = _book_bytes(lambda b: b.active.append(HEADER))
    source = zipfile.ZipFile(io.BytesIO(data))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename == "xl/workbook.xml":
                body = content.split(b"?>", 1)[1] if content.startswith(b"<?xml") else content
                content = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
                           b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>' + body)
            archive.writestr(item, content)
    return buffer.getvalue()


WHOLE_FILE = [
    ("empty_file", lambda: b""),
    ("random_bytes", lambda: bytes(range(256)) * 10),
    ("csv_text", lambda: b"job_name,enabled\norders,Y\n"),
    ("zip_without_workbook", _zip_without_workbook),
    ("truncated_xlsx", lambda: _book_bytes(lambda b: b.active.append(HEADER))[:300]),
    ("zip_bomb", _zip_bomb),
    ("xml_entities", _entity_expansion),
    ("wrong_sheet_name", lambda: _book_bytes(lambda b: setattr(b.active, "title", "Jobs_old"))),
]


@pytest.mark.parametrize("case, make", WHOLE_FILE, ids=[c for c, _ in WHOLE_FILE])
def test_unusable_file_gives_one_clear_workbook_error(tmp_path, case, make):
    path = tmp_path / f"{case}.xlsx"
    path.write_bytes(make())
    with pytest.raises(WorkbookError) as error:
        read_workbook(path)
    assert str(path) in str(error.value)
    if case == "xml_entities":  # refused by defusedxml, not by accident
        assert "EntitiesForbidden" in str(error.value)


SHEET_LEVEL = [
    ("empty_sheet", lambda s: None, "jobs!A1: the sheet is empty"),
    ("header_missing_columns", lambda s: s.append(["job_name", "enabled"]), "jobs!1:1: missing required column(s)"),
    ("duplicate_header", lambda s: s.append(HEADER + ["job_name"]),
     f"jobs!{get_column_letter(len(HEADER) + 1)}1: column 'job_name' appears twice"),
]


@pytest.mark.parametrize("case, build, expected", SHEET_LEVEL, ids=[c for c, _, _ in SHEET_LEVEL])
def test_sheet_level_errors(tmp_path, case, build, expected):
    def make(book):
        book.active.title = "jobs"
        build(book.active)

    path = tmp_path / "w.xlsx"
    path.write_bytes(_book_bytes(make))
    config = read_workbook(path)
    assert any(str(e).startswith(expected) for e in config.errors), config.errors
    assert config.jobs == []


def test_ten_thousand_rows_with_some_bad_ones(tmp_path):
    rows = [job_row(job_name=f"job_{i}", source_table=f"t_{i}", load_type="FULL" if i % 1000 else "NOPE")
            for i in range(10_000)]
    config = read_workbook(write_workbook(tmp_path / "w.xlsx", rows))
    assert len(config.jobs) == 9_990 and len(config.errors) == 10
    assert {e.place for e in config.errors} == {f"jobs!H{i + 2}" for i in range(0, 10_000, 1000)}


def test_a_workbook_claiming_a_huge_sheet_is_read_in_bounded_memory(tmp_path):
    """openpyxl's read-only mode pads each row to the sheet's <dimension>: a 16 KB workbook
    claiming A1:XFD2001, with a cell far right on 2,000 rows, took 265 MB and 5 s to read.
    Rows are read as wide as the header now (issue 21, finding 6)."""
    import io
    import re
    import tracemalloc
    import zipfile

    from ingest.config.workbook import read_workbook
    from tests.workbooks import job_row, write_workbook

    plain = write_workbook(tmp_path / "w.xlsx", [job_row(job_name=f"j{i}", source_table=f"t{i}") for i in range(3)])
    crafted = io.BytesIO()
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(crafted, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                far = "".join(f'<row r="{k}"><c r="XFD{k}" t="inlineStr"><is><t>x</t></is></c></row>'
                              for k in range(5, 2002))
                text = re.sub(r'<dimension ref="[^"]*" ?/>', '<dimension ref="A1:XFD2001"/>', content.decode())
                content = text.replace("</sheetData>", far + "</sheetData>").encode()
            target.writestr(item, content)
    data = crafted.getvalue()
    assert len(data) < 20_000
    tracemalloc.start()
    try:
        config = read_workbook(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [j.job_name for j in config.jobs] == ["j0", "j1", "j2"] and config.errors == []
    assert peak < 20 * 1024 * 1024, f"{peak / 1e6:.0f} MB"


# --- found by the workbook fuzz (tests/unit/test_workbook_fuzz.py) ----------------------------
def _zip_of_a_future_version() -> bytes:
    """A workbook whose central directory says it needs zip version 8.4: zipfile raised
    NotImplementedError, which left read_workbook unwrapped."""
    data = bytearray(_book_bytes(lambda b: b.active.append(HEADER)))
    central = data.index(b"PK\x01\x02")
    data[central + 6] = 84  # "version needed to extract"
    return bytes(data)


def test_a_zip_of_an_unknown_version_is_a_workbook_error():
    with pytest.raises(WorkbookError, match=r"^future\.xlsx: not an \.xlsx workbook \(a damaged zip archive:"
                                            r" NotImplementedError\)"):
        read_workbook(_zip_of_a_future_version(), label="future.xlsx")


def _jobs_with(cell) -> bytes:
    from tests.fuzz_workbooks import Book, Sheet, workbook_bytes

    good = [[f"good_{i}", "Y", "postgres", "pg", "public", f"table_{i}", None, "FULL"] for i in range(200)]
    return workbook_bytes(Book([Sheet("jobs", rows=[HEADER, *good, ["bad_job", "Y", "postgres", cell]],
                                      dimension="A1:AA202")], shared=["one"]))


def _lazy_cases():
    from tests.fuzz_workbooks import Raw

    return [
        ("control_character", "pg\x01", "ExpatError at line 2, column"),  # XML 1.0 forbids it
        ("shared_string_past_the_end", Raw(t="s", v="5"), "IndexError"),
        ("impossible_iso_date", Raw(t="d", v="2024-13-45"), "ValueError"),
        ("style_that_is_no_number", Raw(s="x", v="1"), "ValueError"),
        ("number_that_is_none", Raw(t="n", v="1,5"), "ValueError"),
    ]


@pytest.mark.parametrize("case, cell, reason", _lazy_cases(), ids=[c[0] for c in _lazy_cases()])
def test_a_sheet_openpyxl_fails_on_while_reading_rows_is_a_workbook_error(case, cell, reason):
    """openpyxl parses a sheet's XML only while its rows are read: these raised ParseError,
    IndexError or ValueError out of read_workbook (the fuzz's first finds)."""
    with pytest.raises(WorkbookError) as error:
        read_workbook(_jobs_with(cell), label="lazy.xlsx")
    message = str(error.value)
    assert re.match(r"lazy\.xlsx: sheet 'jobs' cannot be read in row \d+ or a later one \(", message), message
    assert reason in message and "save it again from Excel" in message


def test_a_merge_openpyxl_cannot_parse_is_a_workbook_error():
    from tests.fuzz_workbooks import Book, Sheet, workbook_bytes

    book = Book([Sheet("jobs", rows=[HEADER, ["j", "Y", "postgres", "pg", None, "t", None, "FULL"]],
                       merges=["Z9:A1"])])
    with pytest.raises(WorkbookError, match=r"^merge\.xlsx: sheet 'jobs' cannot be read in row 3 or a later one"
                                            r" \(ValueError\)"):
        read_workbook(workbook_bytes(book), label="merge.xlsx")

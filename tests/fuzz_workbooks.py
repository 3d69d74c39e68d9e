"""Hypothesis strategies for the workbook fuzz (tests/unit/test_workbook_fuzz.py, issue 21).

A workbook is written as raw SpreadsheetML parts zipped in memory (about a millisecond each,
no openpyxl on the writing side), so the fuzz can say what openpyxl itself would refuse to
write: control characters, cells typed `s` pointing past the shared strings, numbers styled
as dates that no calendar holds, a <dimension> claiming A1:XFD1048576, stray rows far down.
Headers come from the column tables the reader uses (JOB_COLUMNS, API_COLUMNS,
FILTER_COLUMNS, QUALITY_COLUMNS), and most cells from each column's example and choices, so
the fuzz reaches the cell parsers and cross-row rules and not only "unknown column"."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from hypothesis import strategies as st
from openpyxl.utils import get_column_letter

from ingest.config.api_sheet import API_COLUMNS
from ingest.config.columns import JOB_COLUMNS
from ingest.config.filters_sheet import FILTER_COLUMNS
from ingest.config.quality_sheet import QUALITY_COLUMNS

SHEET_COLUMNS = {"jobs": JOB_COLUMNS, "api_endpoints": API_COLUMNS, "filters": FILTER_COLUMNS,
                 "quality_rules": QUALITY_COLUMNS}
KNOWN_SHEETS = tuple(SHEET_COLUMNS)
ALL_NAMES = sorted({c.name for columns in SHEET_COLUMNS.values() for c in columns})
JOB_NAMES = ["orders", "customers", "j1", "sales_orders", "coingecko_markets", "Orders", "orders "]
SHEET_NAMES = ["jobs", "Jobs", "JOBS", " jobs", "api_endpoints", "API_Endpoints", "filters", "Filters",
               "filter", " filters ", "quality_rules", "quality rules", "Sheet1", "notes",
               "\u062c\u062f\u0648\u0644", "jobs (2)"]
ODD_TEXT = ["\u202e", "\u200f", "orders\u202e", "\u0627\u0644\u0637\u0644\u0628\u0627\u062a", "\ufeff",
            "\x00", "\x0b", "\x1f", "a\tb", "line\nbreak", "\u00a0", "\U0001f600", "'", "\"", "<&>",
            "_x0041_", "NaN", "inf", "-0", "1e309", "=1", " ", ""]
FORMULAS = ["=A1", "=SUM(A1:XFD1048576)", '=HYPERLINK("http://x","y")', "=1/0", "=NOW()", "=jobs!A1"]
XFD = 16384
MAX_EXCEL_ROW = 1_048_576
NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
REL_NS = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
PKG_RELS = 'xmlns="http://schemas.openxmlformats.org/package/2006/relationships"'
OFFICE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
CT = "application/vnd.openxmlformats-officedocument.spreadsheetml"


@dataclass(frozen=True)
class Raw:
    """A cell written as it is: type attribute `t`, style `s`, value text, formula text."""

    t: str | None = None
    v: str | None = None
    s: str | None = None
    f: str | None = None


@dataclass
class Sheet:
    name: str
    rows: list[list[Any]] = field(default_factory=list)
    first_row: int = 1
    dimension: str | None = None
    merges: list[str] = field(default_factory=list)
    far_cell: tuple[int, int, Any] | None = None  # (row, column, value) far from the rest


@dataclass
class Book:
    sheets: list[Sheet]
    shared: list[str] = field(default_factory=list)


# --- cell values ------------------------------------------------------------------------------
VALID_EXTRAS = {"job_name": ["orders", "customers", "j1"], "depends_on": ["orders", "customers"],
                "source_type": ["postgres", "sqlite", "mssql"], "load_type": ["FULL"], "enabled": ["Y", "N"],
                "connection": ["pg"], "source_table": ["orders", "customers", "t1"], "primary_key": ["id"],
                "target_table": ["orders", "customers", "t1"], "column": ["id"]}


SAFE_ALONE = {"source_schema", "target_table", "schedule", "tags", "depends_on", "alert_recipients",
              "schema_contract", "drift_severity", "last_watermark", "rowcount_tolerance_pct", "max_shrink_pct", "params",
              "data_selector", "page_param", "severity", "value"}
"""Optional columns a valid row may fill on their own (the others need a partner column)."""


def _valid_values(name: str) -> list[Any]:
    """The column's example and choices: what a careful engineer writes."""
    pool: list[Any] = list(VALID_EXTRAS.get(name, []))
    for columns in SHEET_COLUMNS.values():
        for column in columns:
            if column.name == name:
                pool += [column.example, *column.choices]
    return [v for v in dict.fromkeys(pool) if v != ""] or ["x"]


def _good_values(name: str) -> list[Any]:
    """Valid values and near misses."""
    pool: list[Any] = _valid_values(name)
    if name in ("job_name", "depends_on"):
        pool += JOB_NAMES + ["orders, customers", "j1;j1"]
    if name in ("enabled", "scd2", "detect_deleted_keys"):
        pool += ["Y", "N", "yes", "TRUE", True, False, "n"]
    if name == "source_type":
        pool += ["postgres", "sqlite", "oracle", "mssql", "azure_sql", "rest_api", "REST_API"]
    if name == "load_type":
        pool += ["FULL", "INCREMENTAL", "incremental"]
    if name in ("watermark_column", "primary_key", "column", "partition_columns"):
        pool += ["id", "updated_at", "id, updated_at", "id,id", "ID$#"]
    if name == "schedule":
        pool += ["hourly", "hourly at :15", "daily at 02:00", "*/5 * * * *", "0 2 * * 1 Europe/Amsterdam",
                 "daily at 25:00", "0 0 31 2 *", "hourly Mars/Olympus"]
    if name in ("last_watermark", "argument", "value"):
        pool += [0, 5, 2.5, "2024-01-31", datetime(2024, 1, 1, 12), "1,2,3", "^a.*$", "(", "email", "date"]
    unique = {(type(v), v): v for v in pool if v != ""}  # True and 1 both stay
    return list(unique.values()) or ["x"]


_text = st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=24)
"""Any text but control characters: one of those (ODD_TEXT) makes the sheet's XML unreadable."""
_strings = st.one_of(_text, st.sampled_from(ODD_TEXT),
                     st.integers(1_001, 40_000).map(lambda n: "x" * n),
                     st.tuples(st.sampled_from(ODD_TEXT), _text).map("".join))
_raws = st.one_of(
    st.builds(Raw, t=st.just("s"), v=st.integers(-2, 12).map(str)),  # shared string, maybe past the end
    st.builds(Raw, t=st.just("e"), v=st.sampled_from(["#N/A", "#REF!", "#DIV/0!", "junk"])),
    st.builds(Raw, t=st.just("n"), s=st.just("1"),  # a number styled as a date
              v=st.sampled_from(["0", "1", "60", "2958465", "2958466", "1e20", "-1", "nan", "45000.5"])),
    st.builds(Raw, t=st.just("d"), v=st.sampled_from(["2024-01-31", "2024-13-45", "0000-00-00", "x"])),
    st.builds(Raw, t=st.sampled_from(["str", "b", "n", "inlineStr", "zz"]), v=_text),
    st.builds(Raw, s=st.sampled_from(["0", "1", "7", "-1", "x"]), v=st.sampled_from(["1", "2.5"])),
    st.builds(Raw, f=st.sampled_from(["A1", "SUM(A:A)", "1/0", ""]), v=st.sampled_from([None, "3", "x"])),
)
TAME_VALUES = st.one_of(
    st.none(), _text, st.integers(1_001, 40_000).map(lambda n: "x" * n), st.integers(), st.integers(-10, 100),
    st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)), st.sampled_from(FORMULAS),
)
"""Any value Excel itself would write."""
RANDOM_VALUES = st.one_of(TAME_VALUES, _strings, _raws)
"""Also what only a broken or crafted file holds: one such cell makes its sheet unreadable."""
REQUIRED = {c.name for columns in SHEET_COLUMNS.values() for c in columns if c.required} | {
    "connection", "source_table", "primary_key"}  # required of a SQL job


def value_for(name: Any, noise: int = 1, hostile: bool = True) -> st.SearchStrategy[Any]:
    """Noise 0: a valid value of the column (optional ones mostly empty); 1: also near misses
    and now and then anything; 2: anything, often. Only a hostile book gets cells no Excel writes."""
    anything = RANDOM_VALUES if hostile else TAME_VALUES
    if not (isinstance(name, str) and name in ALL_NAMES):
        return anything
    if noise == 0:
        valid = st.sampled_from(VALID_EXTRAS.get(name) or _valid_values(name))
        return valid if name in REQUIRED else st.one_of(st.none(), valid) if name in SAFE_ALONE else st.none()
    good = st.sampled_from(_good_values(name))
    return st.one_of(*[good] * (12 if noise == 1 else 1), st.none(), anything)


# --- headers ----------------------------------------------------------------------------------
def _misnamed(name: str) -> st.SearchStrategy[Any]:
    return st.sampled_from([name.upper(), f" {name} ", name[:-1], name + "s", name.replace("_", " "),
                            f"={name}", None, 7])


@st.composite
def headers(draw: st.DrawFn, sheet: str) -> list[Any]:
    """The sheet's columns, in order or shuffled, then missing, duplicated, misnamed or extra."""
    names = [c.name for c in SHEET_COLUMNS.get(sheet, JOB_COLUMNS)]
    header: list[Any] = list(draw(st.permutations(names))) if draw(st.booleans()) else list(names)
    for _ in range(draw(st.integers(0, 3))):
        edit = draw(st.sampled_from(["drop", "twice", "rename", "extra", "gap", "other"]))
        at = draw(st.integers(0, max(len(header) - 1, 0)))
        if not header:
            header.append(draw(st.sampled_from(names)))
        elif edit == "drop":
            header.pop(at)
        elif edit == "twice":
            header.insert(draw(st.integers(0, len(header))), header[at])
        elif edit == "rename":
            header[at] = draw(_misnamed(str(header[at])))
        elif edit == "extra":
            header.insert(at, draw(st.one_of(_text, st.sampled_from(ODD_TEXT))))
        elif edit == "gap":
            header.insert(at, None)
        else:
            header.insert(at, draw(st.sampled_from(ALL_NAMES)))
    return header


@st.composite
def sheets(draw: st.DrawFn, name: str, hostile: bool = True) -> Sheet:
    kind = name.strip().lower().replace(" ", "_")
    kind = kind if kind in SHEET_COLUMNS else draw(st.sampled_from([*KNOWN_SHEETS, "jobs"]))
    sheet = Sheet(name=name)
    if draw(st.integers(0, 9)) == 0:  # an empty sheet
        return sheet
    header = draw(headers(kind))
    sheet.rows.append(header)
    row = st.one_of(*[st.tuples(*[value_for(h, noise, hostile) for h in header]).map(list)
                      for noise in (0, 0, 1, 2)])
    sheet.rows += draw(st.lists(row, max_size=5))
    sheet.first_row = draw(st.sampled_from([1, 1, 1, 1, 2]))
    sheet.dimension = draw(st.sampled_from([None, "A1:XFD1048576", "A1:XFD2001", "A1",
                                            f"A1:{get_column_letter(max(len(header), 1))}{len(sheet.rows)}",
                                            *(["B2:A1", "junk"] if hostile else [])]))
    sheet.merges = draw(st.lists(st.sampled_from(["A1:B1", "A2:C3", "A2:A1048576", "B2:XFD2", "A1:XFD1048576",
                                                  "A2", "Z9:A1"]), max_size=2))
    if draw(st.integers(0, 5)) == 0:
        sheet.far_cell = (draw(st.sampled_from([7, 50_001, 50_003, MAX_EXCEL_ROW])),
                          draw(st.sampled_from([1, 2, 30, XFD])), draw(value_for(None, 2, hostile)))
    return sheet


@st.composite
def books(draw: st.DrawFn) -> Book:
    names = draw(st.lists(st.one_of(st.sampled_from(SHEET_NAMES), st.sampled_from(SHEET_NAMES),
                                    st.text(st.characters(exclude_categories=("Cc", "Cs")), min_size=1, max_size=31)),
                          min_size=1, max_size=4, unique=True))
    if names and draw(st.integers(0, 3)) and "jobs" not in names:
        names[0] = "jobs"
    names = list(dict.fromkeys(names))
    hostile = draw(st.integers(0, 3)) == 0
    shared = st.one_of(_text, st.sampled_from(JOB_NAMES), *[st.sampled_from(ODD_TEXT)] * hostile)
    return Book(sheets=[draw(sheets(name, hostile)) for name in names], shared=draw(st.lists(shared, max_size=3)))


# --- writing ----------------------------------------------------------------------------------
def _cell_xml(ref: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Raw):
        attrs = "".join(f" {k}={quoteattr(v)}" for k, v in (("t", value.t), ("s", value.s)) if v is not None)
        inner = (f"<f>{escape(value.f)}</f>" if value.f is not None else "") + \
            (f"<v>{escape(value.v)}</v>" if value.v is not None else "")
        return f'<c r="{ref}"{attrs}>{inner}</c>'
    if isinstance(value, bool):
        return f'<c r="{ref}" t="b"><v>{int(value)}</v></c>'
    if isinstance(value, (int, float)):
        return f'<c r="{ref}"><v>{value!r}</v></c>'
    if isinstance(value, datetime):
        return f'<c r="{ref}" t="d"><v>{value.isoformat()}</v></c>'
    text = str(value)
    if text.startswith("=") and len(text) > 1:
        return f'<c r="{ref}"><f>{escape(text[1:])}</f></c>'
    return f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{escape(text)}</t></is></c>'


def _row_xml(number: int, values: list[Any], first_column: int = 1) -> str:
    cells = "".join(_cell_xml(f"{get_column_letter(first_column + i)}{number}", v) for i, v in enumerate(values))
    return f'<row r="{number}">{cells}</row>'


def sheet_xml(sheet: Sheet) -> str:
    rows = [_row_xml(sheet.first_row + i, values) for i, values in enumerate(sheet.rows)]
    if sheet.far_cell is not None:
        row, column, value = sheet.far_cell
        if row >= sheet.first_row + len(sheet.rows):
            rows.append(_row_xml(row, [value], column))
    dimension = f'<dimension ref="{sheet.dimension}"/>' if sheet.dimension else ""
    merges = "".join(f'<mergeCell ref="{m}"/>' for m in sheet.merges)
    merges = f'<mergeCells count="{len(sheet.merges)}">{merges}</mergeCells>' if merges else ""
    return (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet {NS}>{dimension}'
            f'<sheetData>{"".join(rows)}</sheetData>{merges}</worksheet>')


STYLES = (f'<?xml version="1.0" encoding="UTF-8"?>\n<styleSheet {NS}><numFmts count="1"><numFmt numFmtId="164"'
          ' formatCode="yyyy-mm-dd h:mm:ss"/></numFmts><fonts count="1"><font><sz val="11"/></font></fonts>'
          '<fills count="1"><fill><patternFill/></fill></fills><borders count="1"><border><left/><right/><top/>'
          '<bottom/><diagonal/></border></borders><cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0"'
          ' borderId="0"/></cellStyleXfs><cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"'
          ' xfId="0"/><xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0"/></cellXfs>'
          '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>')
"""Style 1 is a date format: a number in a cell styled 1 is read as a datetime."""


def workbook_bytes(book: Book) -> bytes:
    """The book as .xlsx bytes."""
    n = len(book.sheets)
    entries = "".join(f'<sheet name={quoteattr(s.name)} sheetId="{i + 1}" r:id="rId{i + 1}"/>'
                      for i, s in enumerate(book.sheets))
    rels = "".join(f'<Relationship Id="rId{i + 1}" Type="{OFFICE}/worksheet" Target="worksheets/sheet{i + 1}.xml"/>'
                   for i in range(n))
    rels += (f'<Relationship Id="rId{n + 1}" Type="{OFFICE}/styles" Target="styles.xml"/>'
             f'<Relationship Id="rId{n + 2}" Type="{OFFICE}/sharedStrings" Target="sharedStrings.xml"/>')
    overrides = "".join(f'<Override PartName="/xl/worksheets/sheet{i + 1}.xml" ContentType="{CT}.worksheet+xml"/>'
                        for i in range(n))
    shared = "".join(f'<si><t xml:space="preserve">{escape(s)}</t></si>' for s in book.shared)
    parts = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8"?>\n<Types xmlns="http://schemas.openxmlformats.org/package/2006/'
            'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
            'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{CT}.sheet.main+xml"/>'
            f'<Override PartName="/xl/styles.xml" ContentType="{CT}.styles+xml"/>'
            f'<Override PartName="/xl/sharedStrings.xml" ContentType="{CT}.sharedStrings+xml"/>{overrides}</Types>'),
        "_rels/.rels": (f'<?xml version="1.0" encoding="UTF-8"?>\n<Relationships {PKG_RELS}><Relationship Id="rId1"'
                        f' Type="{OFFICE}/officeDocument" Target="xl/workbook.xml"/></Relationships>'),
        "xl/workbook.xml": (f'<?xml version="1.0" encoding="UTF-8"?>\n<workbook {NS} {REL_NS}><sheets>{entries}'
                            '</sheets></workbook>'),
        "xl/_rels/workbook.xml.rels": f'<?xml version="1.0" encoding="UTF-8"?>\n<Relationships {PKG_RELS}>{rels}'
                                      '</Relationships>',
        "xl/styles.xml": STYLES,
        "xl/sharedStrings.xml": (f'<?xml version="1.0" encoding="UTF-8"?>\n<sst {NS} count="{len(book.shared)}"'
                                 f' uniqueCount="{len(book.shared)}">{shared}</sst>'),
    }
    parts.update({f"xl/worksheets/sheet{i + 1}.xml": sheet_xml(s) for i, s in enumerate(book.sheets)})
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for name, text in parts.items():
            archive.writestr(name, text.encode("utf-8", "surrogatepass"))
    return buffer.getvalue()


# --- bytes that are not a workbook (or barely) ------------------------------------------------
@st.composite
def broken_bytes(draw: st.DrawFn) -> bytes:
    """Random bytes, a cut or bit-flipped workbook, a zip of the wrong parts, or a part that is
    not XML."""
    kind = draw(st.sampled_from(["random", "cut", "flip", "zip", "part"]))
    if kind == "random":
        return draw(st.binary(max_size=2_000))
    good = workbook_bytes(draw(books()))
    if kind == "cut":
        return good[: draw(st.integers(0, len(good)))]
    if kind == "flip":
        data = bytearray(good)
        for _ in range(draw(st.integers(1, 8))):
            data[draw(st.integers(0, len(data) - 1))] ^= draw(st.integers(1, 255))
        return bytes(data)
    source = zipfile.ZipFile(io.BytesIO(good))
    buffer = io.BytesIO()
    names = source.namelist()
    victim = draw(st.sampled_from(names))
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in names:
            if name == victim and kind == "zip":
                continue  # a part missing
            content = source.read(name)
            if name == victim:
                content = draw(st.sampled_from([b"", b"<x>", b"not xml", content[: len(content) // 2],
                                                content.replace(b"<sheetData>", b"<sheetData><row r=\"0\"/>")]))
            archive.writestr(name, content)
    return buffer.getvalue()


workbooks = st.one_of(books().map(workbook_bytes), books().map(workbook_bytes), books().map(workbook_bytes),
                      broken_bytes())
"""About three in four a whole workbook (any content), one in four bytes that barely are one."""

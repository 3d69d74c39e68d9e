"""Read a few columns of one sheet's XML as a stream, and write a few cells into it in place.

Reading: defusedxml's iterparse, each row cleared once read, so only the cells asked for are
kept. Writing: the sheet's bytes are copied and only the rows that change are rewritten (a cell
replaced keeps its style; a new cell goes in column order); text is written as an inline string
(`t="inlineStr"`), so the shared strings part never changes, and never as a formula."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from typing import Any, Callable
from xml.sax.saxutils import escape

from defusedxml.ElementTree import iterparse
from openpyxl.utils import column_index_from_string, get_column_letter
from openpyxl.utils.datetime import CALENDAR_MAC_1904, CALENDAR_WINDOWS_1900, from_excel

from ingest.config.sheet_parts import MAIN
from ingest.core.errors import WorkbookError

_REF = re.compile(r"([A-Z]+)(\d+)$")
_ROW_OPEN = re.compile(rb"<((?:[A-Za-z_][\w.-]*:)?)row\b([^>]*?)(/?)>")
_CELL = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?c\b([^>]*?)(?:/>|>.*?</(?:[A-Za-z_][\w.-]*:)?c>)", re.S)
_R_ATTR = re.compile(rb'\br="([^"]*)"')
_S_ATTR = re.compile(rb'\bs="(\d+)"')
_SPANS = re.compile(rb'\s+spans="[^"]*"')
_DIMENSION = re.compile(rb'(<(?:[A-Za-z_][\w.-]*:)?dimension\s+ref=")([A-Z]+\d+)(?::([A-Z]+)(\d+))?(")')


@dataclass(frozen=True)
class RawCell:
    kind: str
    """The cell's `t` attribute (n when absent)."""
    text: str | None
    style: int | None
    formula: bool = False


@dataclass
class SheetCells:
    """Row 1 by column, and the cells of the wanted columns of the other rows by (row, column)."""

    header: dict[int, RawCell] = field(default_factory=dict)
    cells: dict[tuple[int, int], RawCell] = field(default_factory=dict)
    max_column: int = 0


def _raw(element: Any) -> RawCell:
    kind = element.get("t", "n")
    formula = element.find(f"{MAIN}f")
    if kind == "inlineStr":
        text = "".join(t.text or "" for t in element.iter(f"{MAIN}t"))
    else:
        value = element.find(f"{MAIN}v")
        text = value.text if value is not None else None
    if formula is not None:
        text, kind = formula.text or "", "str"
    style = element.get("s")
    return RawCell(kind, text, int(style) if style is not None else None, formula is not None)


def read_cells(xml: bytes, wanted: Callable[[dict[int, RawCell], int], bool]) -> SheetCells:
    """`wanted(header, column)`: whether to keep column `column` of the rows after the header."""
    found, row, column, rows = SheetCells(), 0, 0, None
    for event, element in iterparse(io.BytesIO(xml), events=("start", "end"), forbid_dtd=True):
        if element.tag == f"{MAIN}sheetData" and event == "start":
            rows = element
        elif element.tag == f"{MAIN}row":
            if event == "start":
                row, column = int(element.get("r") or row + 1), 0
            elif rows is not None:
                rows.remove(element)  # read: nothing of it is kept
        elif element.tag == f"{MAIN}c" and event == "end":
            match = _REF.match(element.get("r") or "")
            column = column_index_from_string(match.group(1)) if match else column + 1
            found.max_column = max(found.max_column, column)
            if row == 1:
                found.header[column] = _raw(element)
            elif wanted(found.header, column):
                found.cells[(row, column)] = _raw(element)
    return found


def cell_value(cell: RawCell | None, strings: dict[int, str], dates: set[int], is_1904: bool) -> Any:
    """The value openpyxl would give the cell: text, number, bool, datetime, or `=formula`."""
    if cell is None or cell.text is None:
        return None
    if cell.formula:
        return "=" + cell.text
    if cell.kind == "s":
        return strings.get(int(cell.text))
    if cell.kind in ("inlineStr", "str", "d", "e"):
        return cell.text
    if cell.kind == "b":
        return cell.text in ("1", "true")
    number = float(cell.text) if any(c in cell.text for c in ".eE") else int(cell.text)
    if cell.style in dates:
        return from_excel(number, CALENDAR_MAC_1904 if is_1904 else CALENDAR_WINDOWS_1900)
    return number


def _cell_xml(prefix: bytes, ref: str, value: int | float | str, style: bytes | None) -> bytes:
    s = b' s="' + style + b'"' if style is not None else b""
    if isinstance(value, str):
        space = ' xml:space="preserve"' if value != value.strip() else ""
        text = escape(value).encode()
        return (b"<%sc r=\"%s\"%s t=\"inlineStr\"><%sis><%st%s>%s</%st></%sis></%sc>"
                % (prefix, ref.encode(), s, prefix, prefix, space.encode(), text, prefix, prefix, prefix))
    return b"<%sc r=\"%s\"%s><%sv>%s</%sv></%sc>" % (prefix, ref.encode(), s, prefix, repr(value).encode(),
                                                     prefix, prefix)


def _edit_row(prefix: bytes, body: bytes, row: int, values: dict[int, Any]) -> tuple[bytes, bool]:
    """The row's inner XML with `values` (column -> value) written; True when a cell was added."""
    pieces, last, column, added = [], 0, 0, False
    pending = dict(sorted(values.items()))
    for match in _CELL.finditer(body):
        ref = _R_ATTR.search(match.group(1))
        found = _REF.match(ref.group(1).decode()) if ref else None
        column = column_index_from_string(found.group(1)) if found else column + 1
        for new in [c for c in pending if c < column]:
            pieces += [body[last:match.start()], _cell_xml(prefix, f"{get_column_letter(new)}{row}",
                                                           pending.pop(new), None)]
            last, added = match.start(), True
        if column in pending:
            style = _S_ATTR.search(match.group(1))
            pieces += [body[last:match.start()], _cell_xml(prefix, f"{get_column_letter(column)}{row}",
                                                           pending.pop(column), style.group(1) if style else None)]
            last = match.end()
    pieces.append(body[last:])
    for new, value in pending.items():
        pieces.append(_cell_xml(prefix, f"{get_column_letter(new)}{row}", value, None))
        added = True
    return b"".join(pieces), added


def write_cells(xml: bytes, edits: dict[int, dict[int, Any]]) -> bytes:
    """`xml` with edits[row][column] = value written; every row must exist (the header and the
    job rows the values were read from do). A replaced cell keeps its style; a new one has none."""
    out, last, todo = [], 0, dict(edits)
    for match in _ROW_OPEN.finditer(xml):
        if not todo:
            break
        ref = _R_ATTR.search(match.group(2))
        row = int(ref.group(1)) if ref else None
        if row not in todo:
            continue
        prefix, attributes = match.group(1), match.group(2)
        if match.group(3):  # <row .../>: no cells yet
            end = body_end = match.end()
            body = b""
        else:
            body_end = xml.index(b"</" + prefix + b"row>", match.end())
            end, body = body_end + len(prefix) + 6, xml[match.end():body_end]
        body, added = _edit_row(prefix, body, row, todo.pop(row))
        if added:
            attributes = _SPANS.sub(b"", attributes)  # only a hint; stale once a cell is added
        out += [xml[last:match.start()], b"<" + prefix + b"row" + attributes + b">", body,
                b"</" + prefix + b"row>"]
        last = end
    if todo:
        raise WorkbookError(f"jobs sheet rows {sorted(todo)} have no position (r) in its XML; save it again"
                            " from Excel")
    out.append(xml[last:])
    return b"".join(out)


def widen_dimension(xml: bytes, column: int) -> bytes:
    """The sheet's <dimension ref> made to cover `column` (a new header cell)."""
    def widen(match: re.Match) -> bytes:
        last = match.group(3) or _REF.match(match.group(2).decode()).group(1).encode()
        if column_index_from_string(last.decode()) >= column:
            return match.group(0)
        rows = match.group(4) or _REF.match(match.group(2).decode()).group(2).encode()
        return match.group(1) + match.group(2) + b":" + get_column_letter(column).encode() + rows + match.group(5)

    return _DIMENSION.sub(widen, xml, count=1)

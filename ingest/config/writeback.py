"""Write new watermarks into the workbook's `last_watermark` cells, and the lake each came from
into `watermark_lake` (README "Watermarks"), and nothing else.

A cell is only written if it still holds the value the run started from: a person who edited
it meanwhile wins (the conflict is reported, never clobbered). The file is replaced atomically.

A new watermark comes from the source's data, so it is written only when it passes the same
validation the reader applies to `last_watermark` (a number, or an ISO date/datetime), in the
form the reader parses, and text is stored as a string cell: a value such as
`=HYPERLINK(...)` is refused (reported like a conflict) and never becomes a formula.

Bounded like the reader: the workbook's size caps first, then only the jobs sheet's XML is
read (as a stream, ingest/config/sheet_edit.py) and rewritten where cells change; every other
part of the zip is copied byte for byte (ingest/config/xlsx_zip.py). A hidden sheet of millions
of cells costs its copy, never a parse; new text is an inline string (the shared strings part
is not touched). A missing `watermark_lake` column gets its header cell after the last column.
"""

from __future__ import annotations

import io
import logging
import os
import stat
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openpyxl.utils import get_column_letter

from ingest.config.columns import CellError, parse_watermark
from ingest.config.sheet_edit import RawCell, SheetCells, cell_value, read_cells, widen_dimension, write_cells
from ingest.config.sheet_parts import date1904, date_styles, shared_strings, sheet_parts
from ingest.config.workbook import JOBS_SHEET, load_workbook_bytes
from ingest.config.xlsx_zip import replace_member
from ingest.core.errors import WorkbookError

log = logging.getLogger("ingest.config")
LAKE_COLUMN = "watermark_lake"


@dataclass(frozen=True)
class WatermarkUpdate:
    job_name: str
    expected: Any
    """The workbook value the run read (None for an empty cell)."""
    new: Any
    lake: str | None = None
    """The lake the new value came from (ingest/lake/identity.py), written beside it; None: not written."""


@dataclass
class WritebackOutcome:
    written: list[str]
    conflicts: list[str]
    """Messages for jobs whose cell changed since the run read it, or whose row is gone."""


def _same(cell_value: Any, expected: Any) -> bool:
    if cell_value is None or cell_value == "":
        return expected is None
    if expected is None:
        return False
    try:
        return parse_watermark(cell_value) == expected
    except CellError:
        return False


class _JobsSheet:
    """The jobs sheet's header, job rows and watermark cells, read from its XML alone."""

    def __init__(self, archive: zipfile.ZipFile, xml: bytes):
        self.archive, self._strings, self.columns = archive, {}, None
        self.dates, self.is_1904 = date_styles(archive), date1904(archive)
        self.cells: SheetCells = read_cells(xml, self._wanted)
        if self.columns is None:
            self._resolve_header(self.cells.header)
        names = [c for (_, col), c in self.cells.cells.items() if col == self.columns.get("job_name")]
        self._strings.update(shared_strings(archive, {int(c.text) for c in names if c.kind == "s" and c.text}))
        self.rows: dict[str, int] = {}
        for (row, col), cell in sorted(self.cells.cells.items()):
            value = self.value(cell)
            if col == self.columns.get("job_name") and isinstance(value, str):
                self.rows.setdefault(value.strip(), row)

    def _resolve_header(self, header: dict[int, RawCell]) -> None:
        self._strings.update(shared_strings(self.archive, {int(c.text) for c in header.values()
                                                           if c.kind == "s" and c.text}))
        self.columns = {str(v).strip().lower(): col for col, cell in header.items()
                        if (v := self.value(cell)) is not None}

    def _wanted(self, header: dict[int, RawCell], column: int) -> bool:
        if self.columns is None:
            self._resolve_header(header)
        return column in {self.columns.get(n) for n in ("job_name", "last_watermark", LAKE_COLUMN)}

    def value(self, cell: RawCell | None) -> Any:
        return cell_value(cell, self._strings, self.dates, self.is_1904)

    def at(self, row: int, column: int | None) -> Any:
        return None if column is None else self.value(self.cells.cells.get((row, column)))


def _plan_edits(sheet: _JobsSheet, updates: list[WatermarkUpdate], lake_col: int,
                outcome: WritebackOutcome) -> dict[int, dict[int, Any]]:
    """Row -> column -> value to write; conflicts go to `outcome`."""
    edits: dict[int, dict[int, Any]] = {}
    mark_col = sheet.columns["last_watermark"]
    for update in updates:
        row = sheet.rows.get(update.job_name)
        if row is None:
            outcome.conflicts.append(f"{update.job_name}: its row is no longer in the workbook")
            continue
        ref = f"{JOBS_SHEET}!{get_column_letter(mark_col)}{row}"
        current = sheet.at(row, mark_col)
        try:
            new = parse_watermark(update.new)
        except CellError as exc:
            outcome.conflicts.append(f"{ref}: the new watermark is not written: {exc}")
            continue
        lake_written = update.lake is None or sheet.at(row, lake_col) == update.lake
        if _same(current, new) and lake_written:  # already written (a repeated finalize)
            continue
        if not _same(current, update.expected) and not _same(current, new):
            outcome.conflicts.append(f"{ref}: changed since the run started; not overwritten")
            continue
        edits[row] = {mark_col: new, **({} if update.lake is None else {lake_col: update.lake})}
        outcome.written.append(update.job_name)
    return edits


def apply_watermarks(data: bytes, updates: list[WatermarkUpdate]) -> tuple[bytes, WritebackOutcome]:
    """Return the workbook bytes with the updates applied (or unchanged bytes if none apply)."""
    outcome = WritebackOutcome(written=[], conflicts=[])
    if not updates:
        return data, outcome
    load_workbook_bytes(data)  # the reader's size caps, before anything is unpacked
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        part = next((p for p in sheet_parts(archive) if p.name.lower() == JOBS_SHEET), None)
        if part is None:
            raise WorkbookError(f"the workbook has no sheet named '{JOBS_SHEET}'")
        xml = archive.read(part.path)
        sheet = _JobsSheet(archive, xml)
    if "last_watermark" not in sheet.columns or "job_name" not in sheet.columns:
        outcome.conflicts.extend(f"{u.job_name}: the workbook has no last_watermark column" for u in updates)
        return data, outcome
    lake_col = sheet.columns.get(LAKE_COLUMN) or sheet.cells.max_column + 1
    edits = _plan_edits(sheet, updates, lake_col, outcome)
    if not edits:
        return data, outcome
    if LAKE_COLUMN not in sheet.columns and any(lake_col in row for row in edits.values()):
        edits.setdefault(1, {})[lake_col] = LAKE_COLUMN
        xml = widen_dimension(xml, lake_col)
    return replace_member(data, part.path, write_cells(xml, edits)), outcome


def _keep_owner_and_mode(fd: int, original: Path) -> None:
    """The replacement gets the workbook's mode, owner and group (mkstemp makes a 0600 file of
    the app's user: people who shared the workbook through its group lost access)."""
    info = original.stat()
    os.fchmod(fd, stat.S_IMODE(info.st_mode))
    try:
        os.fchown(fd, info.st_uid, info.st_gid)
    except PermissionError:  # not root: keep what can be kept (the group, if the app's user is in it)
        try:
            os.fchown(fd, -1, info.st_gid)
        except PermissionError:
            log.warning("%s: written back under this app's own group: its group %s could not be kept",
                        original, info.st_gid)


def write_watermarks_to_file(path: str | Path, updates: list[WatermarkUpdate]) -> WritebackOutcome:
    path = Path(path)
    data, _ = load_workbook_bytes(path)
    new_data, outcome = apply_watermarks(data, updates)
    if new_data is data:
        return outcome
    replace_file(path, new_data)
    return outcome


def replace_file(path: Path, data: bytes) -> None:
    """Replace `path` with `data` in one step (a reader sees the old file or the new one, never
    half of one), keeping its mode, owner and group; a new file gets 0644. The temporary file
    beside it is removed when anything fails."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".~", suffix=path.suffix)
    try:
        if path.exists():
            _keep_owner_and_mode(fd, path)
        else:
            os.fchmod(fd, 0o644)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

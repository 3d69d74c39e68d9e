"""Write new watermarks into the workbook's `last_watermark` cells, and nothing else.

A cell is only written if it still holds the value the run started from: a person who edited
it meanwhile wins (the conflict is reported, never clobbered). The file is replaced atomically.

A new watermark comes from the source's data, so it is written only when it passes the same
validation the reader applies to `last_watermark` (a number, or an ISO date/datetime), in the
form the reader parses, and text is stored as a string cell: a value such as
`=HYPERLINK(...)` is refused (reported like a conflict) and never becomes a formula.
"""

from __future__ import annotations

import io
import logging
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openpyxl

from ingest.config.columns import CellError, parse_watermark
from ingest.config.workbook import JOBS_SHEET, load_workbook_bytes

log = logging.getLogger("ingest.config")


@dataclass(frozen=True)
class WatermarkUpdate:
    job_name: str
    expected: Any
    """The workbook value the run read (None for an empty cell)."""
    new: Any


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


def _store(cell: Any, value: int | float | str) -> None:
    """A validated watermark as a value: numbers as numbers, text as a string cell."""
    cell.value = value
    if isinstance(value, str):
        cell.data_type = "s"  # never "f", whatever the text


def apply_watermarks(data: bytes, updates: list[WatermarkUpdate]) -> tuple[bytes, WritebackOutcome]:
    """Return the workbook bytes with the updates applied (or unchanged bytes if none apply)."""
    outcome = WritebackOutcome(written=[], conflicts=[])
    if not updates:
        return data, outcome
    book = openpyxl.load_workbook(io.BytesIO(data))
    names = {s.lower(): s for s in book.sheetnames}
    sheet = book[names[JOBS_SHEET]]
    header = {str(c.value).strip().lower(): c.column for c in sheet[1] if c.value is not None}
    if "last_watermark" not in header:
        outcome.conflicts.extend(f"{u.job_name}: the workbook has no last_watermark column" for u in updates)
        return data, outcome
    name_col, mark_col = header["job_name"], header["last_watermark"]
    rows = {}
    for row in range(2, sheet.max_row + 1):
        value = sheet.cell(row=row, column=name_col).value
        if isinstance(value, str):
            rows.setdefault(value.strip(), row)
    for update in updates:
        row = rows.get(update.job_name)
        if row is None:
            outcome.conflicts.append(f"{update.job_name}: its row is no longer in the workbook")
            continue
        cell = sheet.cell(row=row, column=mark_col)
        try:
            new = parse_watermark(update.new)
        except CellError as exc:
            outcome.conflicts.append(f"{JOBS_SHEET}!{cell.coordinate}: the new watermark is not written: {exc}")
            continue
        if _same(cell.value, new):  # already written (a repeated finalize)
            continue
        if not _same(cell.value, update.expected):
            outcome.conflicts.append(f"{JOBS_SHEET}!{cell.coordinate}: changed since the run"
                                     f" started; not overwritten")
            continue
        _store(cell, new)
        outcome.written.append(update.job_name)
    if not outcome.written:
        return data, outcome
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue(), outcome


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

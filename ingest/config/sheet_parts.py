"""Where each sheet of an .xlsx lives in its zip (xl/workbook.xml and its relationships), how
large its XML is unpacked, and the few workbook-wide facts a cell's value needs (shared strings,
date styles, the 1904 calendar). Small parts are parsed whole with defusedxml; the shared
strings are streamed and only the wanted ones kept."""

from __future__ import annotations

import posixpath
import zipfile
from dataclasses import dataclass
from typing import IO, Any, Iterable

from defusedxml.ElementTree import fromstring, iterparse

from ingest.core.errors import WorkbookError

MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
RELS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
DOC_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
MAX_PART_BYTES = 8 * 1024 * 1024
"""workbook.xml, its relationships and styles: larger is no workbook a person made."""


@dataclass(frozen=True)
class SheetPart:
    name: str
    path: str
    """The sheet's XML inside the zip, e.g. xl/worksheets/sheet1.xml."""
    size: int
    """Its unpacked size, from the zip directory."""
    hidden: bool = False


def _small(archive: zipfile.ZipFile, path: str) -> Any:
    try:
        info = archive.getinfo(path)
    except KeyError:
        raise WorkbookError(f"the workbook has no part {path}") from None
    if info.file_size > MAX_PART_BYTES:
        raise WorkbookError(f"the workbook's part {path} is larger than {MAX_PART_BYTES // (1024 * 1024)} MB")
    return fromstring(archive.read(path), forbid_dtd=True)


def _targets(archive: zipfile.ZipFile, rels_path: str, base: str) -> dict[str, str]:
    """Relationship id -> the part's path in the zip."""
    found = {}
    for rel in _small(archive, rels_path).iter(f"{RELS}Relationship"):
        target = rel.get("Target", "")
        found[rel.get("Id")] = target.lstrip("/") if target.startswith("/") else \
            posixpath.normpath(posixpath.join(base, target))
    return found


def workbook_path(archive: zipfile.ZipFile) -> str:
    for rel in _small(archive, "_rels/.rels").iter(f"{RELS}Relationship"):
        if rel.get("Type", "").endswith("/officeDocument"):
            return rel.get("Target", "").lstrip("/")
    raise WorkbookError("the workbook has no main part")


def sheet_parts(archive: zipfile.ZipFile) -> list[SheetPart]:
    """Every sheet in the workbook's order, with its part and unpacked size."""
    book = workbook_path(archive)
    folder, base = posixpath.split(book)
    targets = _targets(archive, f"{folder}/_rels/{base}.rels", folder)
    sizes = {info.filename: info.file_size for info in archive.infolist()}
    parts = []
    for sheet in _small(archive, book).iter(f"{MAIN}sheet"):
        path = targets.get(sheet.get(DOC_REL), "")
        parts.append(SheetPart(sheet.get("name", ""), path, sizes.get(path, 0),
                               sheet.get("state", "visible") != "visible"))
    return parts


def date1904(archive: zipfile.ZipFile) -> bool:
    properties = _small(archive, workbook_path(archive)).find(f"{MAIN}workbookPr")
    return properties is not None and properties.get("date1904", "0") in ("1", "true")


def date_styles(archive: zipfile.ZipFile) -> set[int]:
    """The cell styles (index into cellXfs) whose number format shows a date."""
    from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format

    folder = posixpath.dirname(workbook_path(archive))
    if f"{folder}/styles.xml" not in archive.namelist():
        return set()
    styles = _small(archive, f"{folder}/styles.xml")
    formats = {int(f.get("numFmtId", "0")): f.get("formatCode", "") for f in styles.iter(f"{MAIN}numFmt")}
    cell_xfs = styles.find(f"{MAIN}cellXfs")
    found = set()
    for index, xf in enumerate(cell_xfs.findall(f"{MAIN}xf") if cell_xfs is not None else []):
        number = int(xf.get("numFmtId", "0"))
        code = formats.get(number, BUILTIN_FORMATS.get(number, ""))
        if code and is_date_format(code):
            found.add(index)
    return found


def shared_strings(archive: zipfile.ZipFile, wanted: Iterable[int]) -> dict[int, str]:
    """The wanted shared strings by index, read as a stream (the table may be large)."""
    wanted = set(wanted)
    folder = posixpath.dirname(workbook_path(archive))
    path = f"{folder}/sharedStrings.xml"
    if not wanted or path not in archive.namelist():
        return {}
    found: dict[int, str] = {}
    with archive.open(path) as stream:
        for index, item in _items(stream):
            if index in wanted:
                found[index] = "".join(t.text or "" for t in item.iter(f"{MAIN}t")
                                       if not _in_phonetic(item, t))
                if len(found) == len(wanted):
                    break
    return found


def _items(stream: IO[bytes]) -> Iterable[tuple[int, Any]]:
    index = 0
    for _event, element in iterparse(stream, events=("end",), forbid_dtd=True):
        if element.tag == f"{MAIN}si":
            yield index, element
            element.clear()
            index += 1


def _in_phonetic(item: Any, text: Any) -> bool:
    """Ruby (phonetic) text is not part of the cell's value."""
    return any(text in list(rph.iter()) for rph in item.iter(f"{MAIN}rPh"))

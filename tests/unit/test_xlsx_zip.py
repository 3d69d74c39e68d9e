"""Replacing one member of a zip copies the others byte for byte (ingest/config/xlsx_zip.py):
written here as a non-seekable stream writes them, with data descriptors, stored and deflated
members and an archive comment."""

from __future__ import annotations

import io
import zipfile

import pytest

from ingest.config.xlsx_zip import replace_member
from ingest.core.errors import WorkbookError


class _Stream(io.RawIOBase):
    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, chunk) -> int:
        self.data += chunk
        return len(chunk)


def test_one_member_is_replaced_and_the_others_are_copied_as_they_are():
    stream = _Stream()
    with zipfile.ZipFile(stream, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("a.xml", b"A" * 1000)
        archive.writestr("b.xml", b"B" * 10, compress_type=zipfile.ZIP_STORED)
        archive.writestr("c.xml", b"C" * 100)
        archive.comment = b"kept"
    data = bytes(stream.data)
    assert all(i.flag_bits & 0x08 for i in zipfile.ZipFile(io.BytesIO(data)).infolist())  # data descriptors
    out = replace_member(data, "b.xml", b"new")
    archive = zipfile.ZipFile(io.BytesIO(out))
    assert archive.testzip() is None and archive.namelist() == ["a.xml", "b.xml", "c.xml"]
    assert (archive.read("a.xml"), archive.read("b.xml"), archive.read("c.xml")) == (b"A" * 1000, b"new", b"C" * 100)
    assert archive.comment == b"kept"
    first = zipfile.ZipFile(io.BytesIO(data)).getinfo("a.xml")
    assert data[first.header_offset:first.header_offset + 30 + 5 + first.compress_size] in out  # raw copy
    with pytest.raises(WorkbookError, match="no part"):
        replace_member(data, "missing.xml", b"")

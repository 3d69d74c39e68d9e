"""Replace one member of an .xlsx (a zip archive) and copy every other member byte for byte:
their local records (header, compressed data, data descriptor) are copied as they are, without
being decompressed, and the central directory is rebuilt with the new offsets. The watermark
write-back uses it to change the jobs sheet alone (ingest/config/writeback.py): a hidden sheet of
millions of cells is copied, never read."""

from __future__ import annotations

import struct
import zlib

from ingest.core.errors import WorkbookError

_EOCD = struct.Struct("<4s4H2LH")
_CENTRAL = struct.Struct("<4s6H3L5H2L")
_LOCAL = struct.Struct("<4s5H3L2H")
_ZIP64_MARK = 0xFFFFFFFF


def _entries(data: bytes) -> tuple[list[tuple[tuple, bytes, bytes, bytes]], tuple]:
    """The central directory's entries as (fields, name, extra, comment), and the end record's fields."""
    end = data.rfind(b"PK\x05\x06")
    if end < 0:
        raise WorkbookError("the workbook is not a zip archive (no end record)")
    eocd = _EOCD.unpack_from(data, end)
    entries, pos = [], eocd[6]
    for _ in range(eocd[4]):
        fields = _CENTRAL.unpack_from(data, pos)
        if fields[0] != b"PK\x01\x02":
            raise WorkbookError("the workbook's zip directory is damaged")
        start = pos + _CENTRAL.size
        name, extra_end = data[start:start + fields[10]], start + fields[10] + fields[11]
        extra, comment = data[start + fields[10]:extra_end], data[extra_end:extra_end + fields[12]]
        if _ZIP64_MARK in (fields[8], fields[9], fields[16]):
            raise WorkbookError("the workbook is a zip64 archive; save it again from Excel")
        entries.append((fields, name, extra, comment))
        pos = extra_end + fields[12]
    return entries, eocd


def _local_record(data: bytes, fields: tuple) -> bytes:
    """The member's local header, data and data descriptor, as they are in `data`."""
    offset = fields[16]
    local = _LOCAL.unpack_from(data, offset)
    end = offset + _LOCAL.size + local[9] + local[10] + fields[8]
    if fields[3] & 0x08:  # a data descriptor follows: with or without its signature
        end += 16 if data[end:end + 4] == b"PK\x07\x08" else 12
    return data[offset:end]


def replace_member(data: bytes, member: str, content: bytes) -> bytes:
    """`data` with `member`'s content replaced (deflated); every other member copied as it is."""
    entries, eocd = _entries(data)
    target = member.encode()
    out, central = bytearray(), bytearray()
    found = False
    for fields, name, extra, comment in entries:
        offset = len(out)
        if name == target:
            found = True
            packer = zlib.compressobj(6, zlib.DEFLATED, -15)
            packed = packer.compress(content) + packer.flush()
            crc, flags = zlib.crc32(content), fields[3] & ~0x08
            out += _LOCAL.pack(b"PK\x03\x04", 20, flags, 8, fields[5], fields[6], crc, len(packed), len(content),
                               len(name), 0) + name + packed
            central += _CENTRAL.pack(b"PK\x01\x02", fields[1], 20, flags, 8, fields[5], fields[6], crc, len(packed),
                                     len(content), len(name), 0, len(comment), 0, fields[14], fields[15],
                                     offset) + name + comment
            continue
        out += _local_record(data, fields)
        central += _CENTRAL.pack(*fields[:16], offset) + name + extra + comment
    if not found:
        raise WorkbookError(f"the workbook has no part {member}")
    directory = len(out)
    out += central
    end = data.rfind(b"PK\x05\x06") + _EOCD.size
    out += _EOCD.pack(b"PK\x05\x06", 0, 0, len(entries), len(entries), len(central), directory, eocd[7])
    out += data[end:end + eocd[7]]
    return bytes(out)

"""Decoding the messages of PostgreSQL's `pgoutput` logical decoding plugin, protocol version 1
(PostgreSQL docs, "Logical Replication Message Formats"): Begin, Commit, Relation, Type,
Origin, Insert, Update, Delete, Truncate. Tuple values arrive in PostgreSQL's text format;
values.py types them by the relation's column type OIDs.

A message this module does not know raises CdcSlotError: the reader never skips a change it
did not understand."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from ingest.core.errors import CdcSlotError

PG_EPOCH = datetime(2000, 1, 1, tzinfo=timezone.utc)
UNCHANGED_TOAST = object()
"""A value PostgreSQL did not send: an unchanged TOASTed column of an update ('u')."""


@dataclass(frozen=True)
class Column:
    name: str
    type_oid: int
    type_modifier: int
    is_key: bool


@dataclass(frozen=True)
class Relation:
    oid: int
    schema: str
    table: str
    replica_identity: str
    """d default (primary key), n nothing, f full, i index."""
    columns: tuple[Column, ...]


@dataclass(frozen=True)
class Begin:
    final_lsn: int
    commit_ts: datetime
    xid: int


@dataclass(frozen=True)
class Commit:
    commit_lsn: int
    end_lsn: int
    commit_ts: datetime


@dataclass(frozen=True)
class Change:
    """Insert ('I'), Update ('U') or Delete ('D') of one row of relation `relation_oid`.
    `new` / `old` are tuples of text values (None: NULL; UNCHANGED_TOAST: not sent); `old`
    is the replica identity's columns ('K') or the whole old row ('O'), None when not sent."""

    op: str
    relation_oid: int
    new: tuple | None = None
    old: tuple | None = None
    old_kind: str | None = None


@dataclass(frozen=True)
class Truncate:
    relation_oids: tuple[int, ...]
    options: int = 0


@dataclass(frozen=True)
class Other:
    """Origin, Type, and logical decoding messages: nothing a table's rows depend on."""

    kind: str
    data: bytes = field(repr=False, default=b"")


Message = Begin | Commit | Relation | Change | Truncate | Other


def lsn_text(lsn: int) -> str:
    """An LSN as PostgreSQL writes it (`16/B374D848`)."""
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


def parse_lsn(text: str) -> int:
    high, low = text.split("/")
    return (int(high, 16) << 32) | int(low, 16)


def _timestamp(micros: int) -> datetime:
    return PG_EPOCH + timedelta(microseconds=micros)


class _Reader:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def unpack(self, fmt: str) -> tuple:
        values = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += struct.calcsize(fmt)
        return values

    def string(self) -> str:
        end = self.data.index(b"\0", self.pos)
        text = self.data[self.pos:end].decode("utf-8")
        self.pos = end + 1
        return text

    def byte(self) -> str:
        value = chr(self.data[self.pos])
        self.pos += 1
        return value

    def tuple_data(self) -> tuple:
        (count,) = self.unpack("!h")
        values: list = []
        data = self.data
        for _ in range(count):
            kind = chr(data[self.pos])
            self.pos += 1
            if kind == "t":
                (length,) = struct.unpack_from("!i", data, self.pos)
                start = self.pos + 4
                values.append(data[start:start + length].decode("utf-8"))
                self.pos = start + length
            elif kind == "n":
                values.append(None)
            elif kind == "u":
                values.append(UNCHANGED_TOAST)
            else:
                raise CdcSlotError(f"pgoutput: tuple value of kind {kind!r} is not understood"
                                   " (binary values are not requested)")
        return tuple(values)


def decode(data: bytes) -> Message:
    """One pgoutput message."""
    reader = _Reader(bytes(data))
    kind = reader.byte()
    decoder = _DECODERS.get(kind)
    if decoder is None:
        if kind in "OYM":
            return Other(kind, reader.data)
        raise CdcSlotError(f"pgoutput: message kind {kind!r} is not understood (protocol version 1 is"
                           " requested; streamed or two-phase transactions are not)")
    return decoder(reader)


def _begin(reader: _Reader) -> Begin:
    final_lsn, ts, xid = reader.unpack("!qqI")
    return Begin(final_lsn, _timestamp(ts), xid)


def _commit(reader: _Reader) -> Commit:
    _flags, commit_lsn, end_lsn, ts = reader.unpack("!bqqq")
    return Commit(commit_lsn, end_lsn, _timestamp(ts))


def _relation(reader: _Reader) -> Relation:
    (oid,) = reader.unpack("!I")
    schema, table = reader.string(), reader.string()
    identity = reader.byte()
    (count,) = reader.unpack("!h")
    columns = []
    for _ in range(count):
        (flags,) = reader.unpack("!b")
        name = reader.string()
        type_oid, modifier = reader.unpack("!Ii")
        columns.append(Column(name, type_oid, modifier, bool(flags & 1)))
    return Relation(oid, schema or "pg_catalog", table, identity, tuple(columns))


def _insert(reader: _Reader) -> Change:
    (oid,) = reader.unpack("!I")
    reader.byte()  # 'N'
    return Change("I", oid, new=reader.tuple_data())


def _update(reader: _Reader) -> Change:
    (oid,) = reader.unpack("!I")
    kind = reader.byte()
    old = None
    old_kind = None
    if kind in "KO":
        old, old_kind = reader.tuple_data(), kind
        kind = reader.byte()
    if kind != "N":
        raise CdcSlotError(f"pgoutput: update message without its new tuple (got {kind!r})")
    return Change("U", oid, new=reader.tuple_data(), old=old, old_kind=old_kind)


def _delete(reader: _Reader) -> Change:
    (oid,) = reader.unpack("!I")
    kind = reader.byte()
    return Change("D", oid, old=reader.tuple_data(), old_kind=kind)


def _truncate(reader: _Reader) -> Truncate:
    count, options = reader.unpack("!ib")
    return Truncate(tuple(reader.unpack(f"!{count}I")), options)


_DECODERS = {"B": _begin, "C": _commit, "R": _relation, "I": _insert, "U": _update, "D": _delete,
             "T": _truncate}

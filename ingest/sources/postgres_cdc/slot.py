"""The connection's publication and logical replication slot on the server: created with an
exported snapshot, read in bounded batches, advanced only after the lake committed, measured
(retained WAL) and dropped.

Reading: `pg_logical_slot_peek_binary_changes(slot, upto_lsn, upto_nchanges, ...)` on an
ordinary connection rather than the streaming protocol. A peek never moves the slot: the slot's
confirmed LSN moves only through `advance`, called after the lake committed the batch, so a
process killed at any point leaves the slot where the lake is (or behind it: the reader then
skips what the lake already holds, by LSN). The batch is bounded by `upto_nchanges` (PostgreSQL
completes the transaction that crosses it, so a transaction is never split between loads) and by
the WAL position when the run started (`upto_lsn`), so a busy source cannot keep a run going.
The price: each peek decodes from the slot's position again, so batches are large (setting
INGEST_CDC_BATCH_CHANGES) and the slot is advanced after each.

Creating: the slot is created over a replication connection (psycopg2's
LogicalReplicationConnection) with EXPORT_SNAPSHOT; while that connection stays open, a second
connection reads the tables in that snapshot (SET TRANSACTION SNAPSHOT): every transaction
committed before the slot's consistent point is in the snapshot, every later one is in the slot.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import psycopg2
import psycopg2.extras
from psycopg2 import sql

from ingest.core.errors import CdcSlotError
from ingest.sources.postgres_cdc.pgoutput import lsn_text, parse_lsn

PROTOCOL_VERSION = "1"
FETCH_MESSAGES = 10_000


@dataclass(frozen=True)
class SlotInfo:
    name: str
    active: bool
    confirmed_lsn: int
    retained_wal_bytes: int
    """WAL the server keeps for this slot: from its restart LSN to the current WAL position."""
    lag_bytes: int
    """From what the lake holds (the confirmed LSN) to the current WAL position."""

    def to_dict(self) -> dict[str, Any]:
        return {"slot": self.name, "active": self.active, "confirmed_lsn": lsn_text(self.confirmed_lsn),
                "retained_wal_bytes": self.retained_wal_bytes, "lag_bytes": self.lag_bytes}


@dataclass(frozen=True)
class SlotStart:
    consistent_lsn: int
    snapshot_name: str


def dsn(connection: str) -> str:
    """libpq's URL for a named connection (credentials as a load resolves them; registered for
    redaction there)."""
    from ingest.sources.connections import resolve_connection_url

    url = resolve_connection_url(connection)
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def session_settings(conn: Any) -> None:
    """Text values are rendered the same on every connection (UTC, ISO dates, exact floats)."""
    with conn.cursor() as cur:
        cur.execute("SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'iso_8601';"
                    " SET extra_float_digits = 3; SET bytea_output = 'hex'")


@contextmanager
def connect(connection: str, url: str | None = None, timeout_s: int | None = None) -> Iterator[Any]:
    extra = {"connect_timeout": timeout_s} if timeout_s else {}
    conn = psycopg2.connect(url or dsn(connection), application_name="ingest-cdc", **extra)
    try:
        conn.autocommit = True
        session_settings(conn)
        yield conn
    finally:
        conn.close()


def slot_info(cur: Any, slot: str) -> SlotInfo | None:
    cur.execute("""SELECT active, confirmed_flush_lsn::text,
                          pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint,
                          pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint
                     FROM pg_replication_slots WHERE slot_name = %s""", (slot,))
    row = cur.fetchone()
    if row is None:
        return None
    return SlotInfo(slot, row[0], parse_lsn(row[1]) if row[1] else 0, int(row[2] or 0), int(row[3] or 0))


def current_lsn(cur: Any) -> int:
    cur.execute("SELECT pg_current_wal_flush_lsn()::text")  # decoding reads flushed WAL only
    return parse_lsn(cur.fetchone()[0])


def set_publication(cur: Any, publication: str, tables: Sequence[tuple[str, str]]) -> None:
    """The publication holds `tables` ((schema, table) pairs): created, or set to exactly them
    when it lacks one or (ours) holds others. A publication another role owns (its owner made
    it for the app: README "Change data capture") that covers them is left as it is: only its
    owner may alter it, and the changes of other tables it holds are read and ignored."""
    names = sql.SQL(", ").join(sql.Identifier(schema, table) for schema, table in tables)
    cur.execute("SELECT puballtables, pg_has_role(pubowner, 'USAGE') FROM pg_publication WHERE pubname = %s",
                (publication,))
    row = cur.fetchone()
    if row is None:
        cur.execute(sql.SQL("CREATE PUBLICATION {} FOR TABLE {}").format(sql.Identifier(publication), names))
        return
    cur.execute("SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = %s", (publication,))
    held = {(schema, table) for schema, table in cur.fetchall()}
    if row[0] or held == set(tables) or (held >= set(tables) and not row[1]):
        return
    cur.execute(sql.SQL("ALTER PUBLICATION {} SET TABLE {}").format(sql.Identifier(publication), names))


def drop_slot(cur: Any, slot: str) -> bool:
    cur.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = %s",
                (slot,))
    return cur.rowcount > 0


def drop_publication(cur: Any, publication: str) -> bool:
    cur.execute("SELECT 1 FROM pg_publication WHERE pubname = %s", (publication,))
    if not cur.fetchone():
        return False
    cur.execute(sql.SQL("DROP PUBLICATION {}").format(sql.Identifier(publication)))
    return True


@contextmanager
def create_slot(url: str, slot: str) -> Iterator[SlotStart]:
    """Create the slot; the exported snapshot stays usable while the block runs."""
    conn = psycopg2.connect(url, connection_factory=psycopg2.extras.LogicalReplicationConnection,
                            application_name="ingest-cdc")
    try:
        cur = conn.cursor()
        cur.execute(sql.SQL("CREATE_REPLICATION_SLOT {} LOGICAL pgoutput EXPORT_SNAPSHOT")
                    .format(sql.Identifier(slot)).as_string(conn))
        _name, consistent_point, snapshot_name, _plugin = cur.fetchone()
        yield SlotStart(parse_lsn(consistent_point), snapshot_name)
    finally:
        conn.close()


@contextmanager
def peek(cur: Any, slot: str, publication: str, upto_lsn: int | None, upto_nchanges: int) -> Iterator[Iterator[tuple]]:
    """The slot's next changes (lsn, xid, message bytes), whole transactions, without moving it;
    fetched `FETCH_MESSAGES` at a time through a server-side cursor (the server keeps the result,
    spilling it to its temporary files), so a large batch is never whole in this process."""
    named = cur.connection.cursor(name="ingest_cdc_peek", withhold=True)  # WITH HOLD: usable in autocommit
    try:
        named.itersize = FETCH_MESSAGES
        try:
            named.execute("""SELECT lsn::text, xid::text, data FROM pg_logical_slot_peek_binary_changes(
                               %s, %s::pg_lsn, %s, 'proto_version', %s, 'publication_names', %s)""",
                          (slot, lsn_text(upto_lsn) if upto_lsn else None, upto_nchanges, PROTOCOL_VERSION,
                           publication))
        except psycopg2.errors.ObjectInUse as exc:
            raise CdcSlotError(f"replication slot {slot} is being read by another process (another run, or a"
                               f" subscriber): {exc.pgerror or exc}".strip()) from None
        yield iter(named)
    finally:
        try:
            named.close()
        except psycopg2.Error:  # a cursor whose DECLARE failed: the error raised above is the one to see
            pass


def advance(cur: Any, slot: str, lsn: int) -> None:
    """Move the slot's confirmed LSN to `lsn` (never back): the server may then free the WAL."""
    info = slot_info(cur, slot)
    if info is None:
        raise CdcSlotError(f"replication slot {slot} is gone; the next run reloads its tables from a new snapshot")
    if lsn > info.confirmed_lsn:
        cur.execute("SELECT pg_replication_slot_advance(%s, %s::pg_lsn)", (slot, lsn_text(lsn)))

"""pgoutput messages -> change rows per table, in commit order.

Each change row holds the table's columns plus `_cdc_op` (I, U, D), `_cdc_lsn` (the commit's
LSN, a number), `_cdc_commit_ts` (commit time, UTC) and `_cdc_seq` (the change's position in its
transaction): ordered by (_cdc_lsn, _cdc_seq) the rows replay the source. An update that
changes the key becomes a delete of the old key and an insert of the new one. Transactions whose
commit LSN is at or below what the lake holds are skipped (a batch read again after a kill).
The rows go to the batch's scratch files as they are decoded (spill.py), a block at a time:
pgoutput sends a transaction whole at its commit, so no row of an unfinished transaction is
ever written (a read that ends inside one fails, never lands part of it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from ingest.core.errors import CdcSlotError
from ingest.lake.cdc_columns import COMMIT_TS, LSN, OP, SEQ
from ingest.sources.postgres_cdc import pgoutput
from ingest.sources.postgres_cdc.spill import Spill, TableSpill, row_schema
from ingest.sources.postgres_cdc.values import TypedColumn, typed_column
from ingest.sources.reserved_names import reserved_columns

META_HINTS = {
    OP: {"name": OP, "data_type": "text", "nullable": False},
    LSN: {"name": LSN, "data_type": "bigint", "nullable": False},
    COMMIT_TS: {"name": COMMIT_TS, "data_type": "timestamp", "nullable": True},
    SEQ: {"name": SEQ, "data_type": "bigint", "nullable": False},
}


@dataclass
class TableChanges:
    schema: str
    table: str
    spill: TableSpill
    """The change rows, in commit order, on disk."""
    columns: list[TypedColumn] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: {"I": 0, "U": 0, "D": 0})

    @property
    def changes(self) -> int:
        return self.spill.rows


@dataclass
class Batch:
    tables: dict[tuple[str, str], TableChanges] = field(default_factory=dict)
    truncated: set[tuple[str, str]] = field(default_factory=set)
    last_commit_lsn: int | None = None
    last_end_lsn: int | None = None
    """The end of the last commit read (landed or skipped): where the slot may advance to."""
    transactions: int = 0
    changes: int = 0


@dataclass
class _Relation:
    schema: str
    table: str
    names: list[str]
    typed: list[TypedColumn]
    key_positions: list[int]
    arrow: Any = None
    """The arrow schema of its change rows (spill.py)."""


class Decoder:
    """Decodes a slot's messages batch after batch (relations are remembered: PostgreSQL sends a
    relation's message once per decoding session, before its first change)."""

    def __init__(self, cursor: Any, keys: dict[tuple[str, str], tuple[str, ...]], capabilities: Any,
                 blocked: dict[tuple[str, str], list[str]] | None = None) -> None:
        self.cursor = cursor
        self.keys = keys
        """(schema, table) -> the job's key columns (lower case); tables not in it are ignored."""
        self.capabilities = capabilities
        """The destination's (dlt's), for the arrow types of the rows (spill.arrow_schema)."""
        self.relations: dict[int, _Relation] = {}
        self.blocked = blocked if blocked is not None else {}
        """(schema, table) -> its reserved columns (ingest/sources/reserved_names.py): its changes
        are skipped, the other tables' decoded; a relation message naming one adds its table."""
        self.skipped: set[tuple[str, str]] = set()
        """Blocked tables whose changes were skipped (the lake misses them: a re-snapshot once fixed)."""

    def batch(self, messages: Iterable[tuple], landed_commit_lsn: int, spill: Spill) -> Batch:
        """Decode `messages` (whole transactions), the rows of transactions committed after
        `landed_commit_lsn` written to `spill`."""
        batch = Batch()
        begin: pgoutput.Begin | None = None
        seq = 0
        for _lsn, _xid, data in messages:
            message = pgoutput.decode(data)
            if isinstance(message, pgoutput.Begin):
                begin, seq = message, 0
            elif isinstance(message, pgoutput.Relation):
                self._relation(message)
            elif isinstance(message, pgoutput.Change):
                if begin is not None and begin.final_lsn > landed_commit_lsn:
                    seq = self._change(message, begin, seq, batch, spill)
            elif isinstance(message, pgoutput.Truncate):
                if begin is not None and begin.final_lsn > landed_commit_lsn:
                    batch.truncated.update(self._name(oid) for oid in message.relation_oids)
            elif isinstance(message, pgoutput.Commit):
                self._commit(batch, message, begin, landed_commit_lsn)
                begin = None
        if begin is not None:
            raise CdcSlotError(f"the slot's read ended inside the transaction committing at"
                               f" {pgoutput.lsn_text(begin.final_lsn)}: nothing of it was landed; run again")
        spill.close()
        return batch

    def key_of(self, schema: str, table: str) -> list[str]:
        """The table's key as the last relation message described it (else the catalog's)."""
        relation = self._last_relation(schema, table)
        if relation is not None:
            return [relation.names[i] for i in relation.key_positions]
        return list(self.keys.get((schema, table)) or ())

    def columns_of(self, schema: str, table: str) -> list[TypedColumn] | None:
        """The table's columns as the last relation message described them; None before one."""
        relation = self._last_relation(schema, table)
        return list(relation.typed) if relation is not None else None

    def _last_relation(self, schema: str, table: str) -> "_Relation | None":
        """A table dropped and created again has a new oid: its latest relation message wins."""
        for relation in reversed(list(self.relations.values())):
            if (relation.schema, relation.table) == (schema, table):
                return relation
        return None

    def _name(self, oid: int) -> tuple[str, str]:
        relation = self.relations.get(oid)
        return (relation.schema, relation.table) if relation else ("?", f"oid {oid}")

    def _relation(self, message: pgoutput.Relation) -> None:
        names = [c.name for c in message.columns]
        reserved = reserved_columns(names) if (message.schema, message.table) in self.keys else []
        if reserved:  # its rows would collide with the change columns: never decoded from here on
            self.blocked[(message.schema, message.table)] = reserved
            self.relations[message.oid] = _Relation(message.schema, message.table, names, [], [])
            return
        typed = [typed_column(c.name, c.type_oid, c.type_modifier, self.cursor) for c in message.columns]
        wanted = self.keys.get((message.schema, message.table))
        if wanted:
            lower = [n.lower() for n in names]
            key_positions = [lower.index(k) for k in wanted if k in lower]
        elif message.replica_identity != "f":
            key_positions = [i for i, c in enumerate(message.columns) if c.is_key]
        else:
            key_positions = []
        self.relations[message.oid] = _Relation(message.schema, message.table, names, typed, key_positions,
                                                row_schema(typed, list(META_HINTS.values()), self.capabilities))

    def _change(self, change: pgoutput.Change, begin: pgoutput.Begin, seq: int, batch: Batch, spill: Spill) -> int:
        """Write the change's rows (sequence numbers from `seq` on); returns the next number."""
        relation = self.relations.get(change.relation_oid)
        if relation is None:
            raise CdcSlotError(f"pgoutput: a change of relation {change.relation_oid} came before its relation message")
        key = (relation.schema, relation.table)
        if key not in self.keys:
            return seq
        if key in self.blocked:
            self.skipped.add(key)
            return seq
        table = batch.tables.get(key)
        if table is None:
            table = batch.tables[key] = TableChanges(relation.schema, relation.table,
                                                     spill.table(relation.schema, relation.table))
        table.columns = relation.typed
        for op, values in _rows_of(change, relation):
            row = {name: (None if v is None else column.convert(v))
                   for name, column, v in zip(relation.names, relation.typed, values)}
            row.update({OP: op, LSN: begin.final_lsn, COMMIT_TS: begin.commit_ts, SEQ: seq})
            table.spill.append(row, relation.arrow)
            table.counts[op] += 1
            batch.changes += 1
            seq += 1
        return seq

    def _commit(self, batch: Batch, commit: pgoutput.Commit, begin: pgoutput.Begin | None,
                landed_commit_lsn: int) -> None:
        """The rows were written as they came (pgoutput sends a transaction at its commit; its
        Begin's final LSN is this commit's LSN, so skipped transactions wrote none)."""
        if begin is not None and begin.final_lsn != commit.commit_lsn:
            raise CdcSlotError(f"pgoutput: a commit at {pgoutput.lsn_text(commit.commit_lsn)} does not match its"
                               f" begin ({pgoutput.lsn_text(begin.final_lsn)})")
        batch.last_end_lsn = commit.end_lsn
        if commit.commit_lsn <= landed_commit_lsn:
            return
        batch.last_commit_lsn = commit.commit_lsn
        batch.transactions += 1


def _rows_of(change: pgoutput.Change, relation: _Relation) -> list[tuple[str, tuple]]:
    """(op, text values) of a change: a key-changing update is a delete and an insert."""
    if change.op == "I":
        return [("I", _no_toast(change.new, None, relation))]
    if change.op == "D":
        return [("D", change.old)]
    new = _no_toast(change.new, change.old if change.old_kind == "O" else None, relation)
    if change.old is not None and relation.key_positions:
        old_key = [change.old[i] for i in relation.key_positions]
        if old_key != [new[i] for i in relation.key_positions]:
            return [("D", change.old), ("I", new)]
    return [("U", new)]


def _no_toast(new: tuple, old: tuple | None, relation: _Relation) -> tuple:
    """An unchanged TOASTed value is not sent in an update: take it from the old row (REPLICA
    IDENTITY FULL sends it whole); without it the load fails with what to do."""
    if pgoutput.UNCHANGED_TOAST not in new:
        return new
    values = list(new)
    for i, value in enumerate(values):
        if value is not pgoutput.UNCHANGED_TOAST:
            continue
        if old is not None and old[i] is not pgoutput.UNCHANGED_TOAST:
            values[i] = old[i]
            continue
        raise CdcSlotError(f"table {relation.schema}.{relation.table}: an update left column {relation.names[i]}"
                           " (a large TOASTed value) unchanged and the log does not carry it; run ALTER TABLE"
                           f" {relation.schema}.{relation.table} REPLICA IDENTITY FULL, then `python -m ingest cdc"
                           " drop` for the connection so that the next run reloads it from a new snapshot")
    return tuple(values)

"""The app's replication slot and publication of a connection: one of each per connection
(not per job), because every slot holds back WAL on the server until it is read: one slot
that feeds all of a connection's CDC tables retains the WAL once, and one read sees each
transaction whole, whatever tables it touched (docs/cdc.md)."""

from __future__ import annotations

import hashlib
import re

PREFIX = "ingest_cdc_"
MAX_NAME = 63  # PostgreSQL's NAMEDATALEN - 1


def _name(connection: str) -> str:
    plain = re.sub(r"[^a-z0-9_]", "_", connection.lower())
    name = PREFIX + plain
    if plain != connection or len(name) > MAX_NAME:  # keep two different connections apart
        digest = hashlib.sha256(connection.encode()).hexdigest()[:8]
        name = f"{name[:MAX_NAME - 9]}_{digest}"
    return name


def slot_name(connection: str) -> str:
    """Slot names allow lower-case letters, digits and underscores only."""
    return _name(connection)


def publication_name(connection: str) -> str:
    return _name(connection)


def pipeline_name(connection: str) -> str:
    """The dlt pipeline that lands the connection's changes (its state holds the LSN landed)."""
    return _name(connection)

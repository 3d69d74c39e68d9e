"""Operating a connection's slot: how far behind it is (retained WAL) and dropping it with its
publication (`python -m ingest cdc lag|drop --connection X`). A dropped slot holds no WAL any
more; the next CDC run of the connection reloads its tables from a new snapshot."""

from __future__ import annotations

from typing import Any

from ingest.sources.postgres_cdc import slot as slots
from ingest.sources.postgres_cdc.names import publication_name, slot_name


def slot_lag(connection: str, timeout_s: int | None = None) -> dict[str, Any]:
    """{"slot", "exists", and when it does: "retained_wal_bytes", "lag_bytes", "confirmed_lsn", "active"}."""
    name = slot_name(connection)
    with slots.connect(connection, timeout_s=timeout_s) as conn:
        info = slots.slot_info(conn.cursor(), name)
    return {"connection": connection, "slot": name, "exists": info is not None, **(info.to_dict() if info else {})}


def drop(connection: str) -> dict[str, Any]:
    """Drop the app's slot and publication of `connection`; what was there."""
    slot, publication = slot_name(connection), publication_name(connection)
    with slots.connect(connection) as conn:
        cur = conn.cursor()
        dropped_slot = slots.drop_slot(cur, slot)
        dropped_publication = slots.drop_publication(cur, publication)
    return {"connection": connection, "slot": slot, "slot_dropped": dropped_slot,
            "publication": publication, "publication_dropped": dropped_publication}

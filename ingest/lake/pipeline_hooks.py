"""Two adjustments to a dlt pipeline object that every load of ours makes the same way: the
job lock checked right before dlt commits, and dlt told that our own state sync was its sync.
Used by ingest/load.py and the CDC connection load (ingest/sources/postgres_cdc/)."""

from __future__ import annotations

from typing import Any

from ingest.core import interrupts
from ingest.lake.locks import LockHandle


def fence_commit(pipeline: Any, held: LockHandle | None) -> None:
    """dlt's `run` ends with `self.load(...)`, the step that commits data and state: check the
    job's lock is still held right before it (a lapsed lease: LockLostError, nothing committed),
    and that the run was not asked to stop (JobInterruptedError, nothing committed; once the
    commit began, a stop waits for it: ingest/core/interrupts.py)."""
    load_step = pipeline.load

    def fenced_load(*args: Any, **kwargs: Any) -> Any:
        if held is not None:
            held.check()
        interrupts.before_commit()
        return load_step(*args, **kwargs)

    pipeline.load = fenced_load


def synced_for_this_run(pipeline: Any) -> None:
    """dlt's `run` syncs with the destination once per pipeline object, unless its own flag
    says that was done ("sync only once" in dlt/pipeline/pipeline.py); a `sync_destination()`
    made just before (to read the state first) is that sync. Without this the lake's state was
    read twice per load (~10 ms locally, a round of blob reads on ADLS). dlt is pinned;
    tests/integration/test_postgres_loads.py counts the syncs, so a rename fails loudly."""
    pipeline._state_restored = True

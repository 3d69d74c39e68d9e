"""Initialize the lake's dataset before a job's first load, one job at a time.

dlt initializes a dataset on the first load into it: it checks for its `init` file, then
creates the folder with makedirs (no exist_ok). Jobs starting together in a fresh local lake
race there and the losers fail with FileExistsError. Doing it here, under a lock, removes the
race. dlt's own sync runs first: on a dataset that does not exist it wipes a pipeline's stale
local state (the lake is the truth), and initializing before that decision would keep the stale
state (an emptied lake would then load nothing new).
"""

from __future__ import annotations

import threading

import dlt

_LOCK = threading.Lock()


def _initialized(pipeline: dlt.Pipeline) -> bool:
    with pipeline.destination_client() as client:
        return client.is_storage_initialized()


def initialize_dataset(pipeline: dlt.Pipeline) -> None:
    if _initialized(pipeline):
        return
    with _LOCK:
        pipeline.sync_destination()
        with pipeline.destination_client() as client:
            if not client.is_storage_initialized():
                client.initialize_storage()

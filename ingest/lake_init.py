"""The first load into a fresh lake goes alone.

dlt initializes a dataset on the first load into it: it checks for its `init` file, then
creates the folder with makedirs (no exist_ok). Jobs loading together into a fresh local lake
race there and the losers fail with FileExistsError. So while a local dataset is not initialized,
loads take a lock (per process): the first one initializes it, the others find it done and go on
in parallel.

The dataset is not initialized ahead of the loads: dlt decides on a missing dataset that a
pipeline's local state is stale and wipes it (the lake is the truth); an up-front `init` file
would keep that state and an emptied lake would load nothing new.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator

import dlt

_LOCK = threading.Lock()


def _needs_guard(pipeline: dlt.Pipeline) -> bool:
    """A local lake whose dataset dlt has not initialized yet (on blob storage a folder is no
    object, creating it is a no-op: there is no race there)."""
    with pipeline.destination_client() as client:
        protocols = client.fs_client.protocol
        local = "file" in (protocols if isinstance(protocols, (tuple, list)) else (protocols,))
        return local and not client.is_storage_initialized()


@contextmanager
def first_load_guard(pipeline: dlt.Pipeline) -> Iterator[None]:
    """Hold the lock around the load while the pipeline's dataset is not initialized."""
    if not _needs_guard(pipeline):
        yield
        return
    with _LOCK:
        if _needs_guard(pipeline):
            yield
            return
    yield  # another job's first load initialized it while this one waited

"""The lake's filesystem client for one job's pipeline, opened once and shared by the steps
around the load (lake repair, drift history, row count, quality rules).

`pipeline.destination_client()` resolves the whole destination configuration each time
(~5 ms); a job asked for it four times. The steps use only what does not change during a
job: the fsspec filesystem, the bucket and the dataset path. dlt's filesystem client opens
and closes nothing (its `__exit__` is a no-op), so sharing it is safe; callers that need a
client bound to the pipeline's current schema (Delta tables) still ask dlt directly."""

from __future__ import annotations

import threading
import weakref
from typing import Any

_clients: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def lake_client(pipeline: Any) -> Any:
    """dlt's FilesystemClient for `pipeline`'s lake; usable in `with` like dlt's own."""
    with _lock:
        client = _clients.get(pipeline)
    if client is None:
        client = pipeline.destination_client()
        with _lock:
            client = _clients.setdefault(pipeline, client)
    return client

"""One SQLAlchemy engine per source connection per process, reused by every job and run.

An engine keeps its compiled-SQL cache; a new one per job compiled the reflection and count
queries again each time (~20 ms of every job, measured in bench/). Jobs still hold no
connections between loads: each job leases the engine (`lease_engine`) and gives it back
(`release_engine`); the last job of the process to give it back disposes of its pool, which
closes the pooled connections and leaves the engine (and its cache) usable for the next lease.

Disposing while another job of the process (a thread: the Functions worker runs activities in
threads, the local runner's thread mode) still streams would not close that job's connection:
SQLAlchemy hands it back to the pool it came from, which the engine no longer knows, and it
stays open until the garbage collector finds that pool. Counting the leases closes every
connection when the last job is done instead.

Not shared: engines with an Entra ID access token (each job's token source is attached to its
own engine; disposed when its job gives it back). The key holds the password, so the cache is
only ever in memory, never logged."""

from __future__ import annotations

import threading
from collections import OrderedDict

from sqlalchemy.engine import Engine

from ingest.sources.connections import SourceConnection

MAX_ENGINES = 32
"""A process that sees more distinct connections (e.g. rotated passwords) drops the oldest
unleased one."""

_engines: OrderedDict[str, Engine] = OrderedDict()
_leases: dict[Engine, int] = {}
_lock = threading.Lock()


def lease_engine(source: SourceConnection) -> Engine:
    """The process's engine for this connection, counted as in use until `release_engine`."""
    from ingest.sources.sql import make_engine

    with _lock:
        if source.access_token is not None:
            engine = make_engine(source)
        else:
            engine = _cached(source, make_engine)
        _leases[engine] = _leases.get(engine, 0) + 1
        return engine


def release_engine(engine: Engine) -> None:
    """Give a leased engine back; the last lease closes its pooled connections. Under the lock,
    so a job leasing the engine at that moment gets a fresh pool, never one being disposed."""
    with _lock:
        left = _leases.get(engine, 1) - 1
        if left > 0:
            _leases[engine] = left
            return
        _leases.pop(engine, None)
        engine.dispose()


def _cached(source: SourceConnection, make_engine) -> Engine:
    key = "|".join((source.url.render_as_string(hide_password=False), repr(sorted(source.connect_args.items()))))
    engine = _engines.get(key)
    if engine is not None:
        _engines.move_to_end(key)
        return engine
    engine = _engines[key] = make_engine(source)
    for old_key in [k for k in _engines if _leases.get(_engines[k], 0) == 0][: max(0, len(_engines) - MAX_ENGINES)]:
        _engines.pop(old_key).dispose()
    return engine


def clear() -> None:
    """Dispose of every shared engine (tests; a worker shutting down)."""
    with _lock:
        while _engines:
            _engines.popitem()[1].dispose()
        _leases.clear()

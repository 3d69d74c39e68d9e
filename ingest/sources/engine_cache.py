"""One SQLAlchemy engine per source connection per process, reused by every job and run.

An engine keeps its compiled-SQL cache; a new one per job compiled the reflection and count
queries again each time (~20 ms of every job, measured in bench/). Jobs still hold no
connections between loads: `SqlJobSource.close` calls `engine.dispose()`, which closes the
pooled connections and leaves the engine (and its cache) usable. A job still streaming on a
connection of the same engine keeps it until it returns it (SQLAlchemy's documented dispose
behaviour), so parallel jobs on one source are safe.

Not shared: engines with an Entra ID access token (each job's token source is attached to its
own engine). The key holds the password, so the cache is only ever in memory, never logged."""

from __future__ import annotations

import threading
from collections import OrderedDict

from sqlalchemy.engine import Engine

from ingest.sources.connections import SourceConnection

MAX_ENGINES = 32
"""A process that sees more distinct connections (e.g. rotated passwords) drops the oldest."""

_engines: OrderedDict[str, Engine] = OrderedDict()
_lock = threading.Lock()


def shared_engine(source: SourceConnection) -> Engine:
    from ingest.sources.sql import make_engine

    if source.access_token is not None:
        return make_engine(source)
    key = "|".join((source.url.render_as_string(hide_password=False), repr(sorted(source.connect_args.items()))))
    with _lock:
        engine = _engines.get(key)
        if engine is not None:
            _engines.move_to_end(key)
            return engine
        engine = _engines[key] = make_engine(source)
        while len(_engines) > MAX_ENGINES:
            _engines.popitem(last=False)[1].dispose()
        return engine


def clear() -> None:
    """Dispose of every shared engine (tests; a worker shutting down)."""
    with _lock:
        while _engines:
            _engines.popitem()[1].dispose()

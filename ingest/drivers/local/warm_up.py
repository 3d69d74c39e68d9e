"""Warm the runner's process before it forks job processes (ingest/drivers/local/job_processes.py).

A forked child inherits the parent's state, and a Python process pays a price on its first
load that later loads do not: lazy imports (the SQL dialects, connectorx, dlt's sql_database
source), the ABC and typing caches dlt's configuration resolution fills, dlt's first
extract / normalize / load and parquet writer. Measured: the first small job in a process
took 0.37 s, the next ones 0.12 s. A child of a cold parent pays that on every job, so the
parent pays it once instead: it imports the modules jobs import, and loads a one-row arrow
table with dlt into a scratch folder (never the lake). About 0.27 s once per process, when a
wave has more than one job; it never fails a run (a failing warm-up is logged and the jobs
run cold). 20 tables x 100k rows, 5 job processes from a fresh CLI process: 4.89 s -> 4.2 s.
Not warmed: each child's source engine (ingest/sources/engine_cache.py) connects and compiles
its reflection queries afresh; warming it would mean connecting to every source from the
parent before any job starts.

`preload(source_types)` is the import part alone, for the source types a run has: the parent
pays it once before its first fork, whatever the number of jobs, instead of every job process
importing them again (45 modules, ~0.05 s per process for a SQLite job: the demo's two job
processes ran 0.21 -> 0.14 s of CPU each). The scratch load stays for waves of several units:
for the demo's two one-job waves it cost more than it saved."""

from __future__ import annotations

import importlib
import logging
import tempfile
import threading
from pathlib import Path
from typing import Iterable

log = logging.getLogger("ingest.runner")

SQL_MODULES = ("ingest.sources.job_source", "ingest.sources.sql", "ingest.sources.soft_deletes",
               "ingest.sources.engine_cache", "dlt.sources.sql_database", "pyarrow.parquet")
BY_SOURCE_TYPE = {
    "postgres": ("connectorx", "psycopg2.extras", "sqlalchemy.dialects.postgresql.psycopg2"),
    "sqlite": ("sqlite3", "sqlalchemy.dialects.sqlite.pysqlite"),
    "mssql": ("ingest.sources.mssql", "sqlalchemy.dialects.mssql.pyodbc"),
    "azure_sql": ("ingest.sources.mssql", "sqlalchemy.dialects.mssql.pyodbc"),
    "oracle": ("ingest.sources.oracle", "sqlalchemy.dialects.oracle.oracledb"),
    "rest_api": ("ingest.sources.job_source", "ingest.sources.rest"),
}
"""What a job of each source type imports on first use (SQL types: SQL_MODULES too); one that
cannot import here (no ODBC library) is skipped."""
MODULES = tuple(dict.fromkeys(SQL_MODULES + sum(BY_SOURCE_TYPE.values(), ())))

_lock = threading.Lock()
_warm = False
_preloaded: set[str] = set()


def preload(source_types: Iterable[str]) -> None:
    """Import what jobs of `source_types` import on first use (each module once per process)."""
    names: list[str] = []
    for source_type in source_types:
        names += (SQL_MODULES if source_type != "rest_api" else ()) + BY_SOURCE_TYPE.get(source_type, ())
    _import(names)


def _import(names: Iterable[str]) -> None:
    with _lock:
        for name in dict.fromkeys(names):
            if name in _preloaded:
                continue
            _preloaded.add(name)
            try:
                importlib.import_module(name)
            except ImportError as exc:
                log.debug("warm-up: %s not imported: %s", name, exc)


def warm_up() -> None:
    """Every module of MODULES, then a one-row dlt load into a scratch folder (once per process)."""
    global _warm
    _import(MODULES)
    with _lock:
        if _warm:
            return
        _warm = True
        try:
            _scratch_load()
        except Exception as exc:  # only speed is at stake
            log.warning("warm-up load failed, jobs start cold: %s: %s", type(exc).__name__, exc)


def _scratch_load() -> None:
    from datetime import datetime, timezone
    from decimal import Decimal

    import dlt
    import pyarrow as pa
    from dlt.destinations import filesystem

    table = pa.table({
        "id": pa.array([1], pa.int64()), "qty": pa.array([1], pa.int32()),
        "amount": pa.array([Decimal("1.00")], pa.decimal128(12, 2)), "name": pa.array(["warm-up"]),
        "at": pa.array([datetime.now(timezone.utc)], pa.timestamp("us", tz="UTC")),
    })
    with tempfile.TemporaryDirectory(prefix="ingest-warm-up-") as folder:
        pipeline = dlt.pipeline(pipeline_name="ingest_warm_up", pipelines_dir=str(Path(folder, "pipelines")),
                                destination=filesystem(bucket_url=Path(folder, "lake").as_uri()),
                                dataset_name="warm_up")
        pipeline.run(dlt.resource([table], name="warm_up"), loader_file_format="parquet")

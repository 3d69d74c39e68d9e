"""One connection's CDC jobs end to end: check the server, (re)create the slot with an initial
snapshot when needed, then read the slot batch after batch and land each batch in the lake in
ONE dlt load (every table of the connection, so a transaction that touched several tables lands
whole), and only then advance the slot.

Exactly once: the lake's dlt state (committed with the data) holds the commit LSN of the last
transaction landed. Before reading, a load package left by a killed run is finished and the
slot is advanced to what the lake holds; transactions at or below it are skipped when read
again. So a kill before the lake commit re-reads the batch (the slot never moved), and a kill
after it skips what landed (the state says so).

Re-snapshot (the tables are reloaded, replacing what the lake held, and the slot starts anew):
the first run, a change in the set of CDC tables of the connection, a lost slot, a TRUNCATE of
one of the tables, a table whose changes were skipped (below) that can be read again.

A table with a column named like the app's own (`_cdc_*`, `_ingest_*`, `_dlt_*`: its rows
would collide with the change columns) is blocked: its job fails with ReservedColumnError, its
changes are skipped and the other tables land and advance the slot as usual (one table never
holds back the slot's WAL). The state lists the blocked tables whose changes were skipped (or
that a snapshot left out); the first run that finds none of them blocked any more re-snapshots.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import dlt

from ingest.config.model import JobConfig
from ingest.core.classify import classify
from ingest.core.errors import CdcSlotError, JobLockedError, ReservedColumnError
from ingest.core.result import JobResult, JobStatus, RunContext
from ingest.core.settings import Settings
from ingest.lake.pipeline_hooks import fence_commit, synced_for_this_run
from ingest.lake.destination import make_destination, working_dir
from ingest.lake import load_wakeup, parquet_encoding
from ingest.lake.locks import JobLock, LockHandle
from ingest.lake.cdc_columns import COMMIT_TS, LSN, OP, SEQ
from ingest.lake.cdc_merge import combined
from ingest.sources.postgres_cdc import slot as slots
from ingest.sources.postgres_cdc import landing, snapshot_chunks, spill
from ingest.sources.postgres_cdc.changes import Decoder
from ingest.sources.postgres_cdc.names import pipeline_name, publication_name, slot_name
from ingest.sources.postgres_cdc.pgoutput import lsn_text
from ingest.sources.postgres_cdc.prerequisites import require_prerequisites
from ingest.sources.postgres_cdc.spill import Spill
from ingest.sources.postgres_cdc.values import TypedColumn, typed_column
from ingest.sources.reserved_names import reserved_column_message, reserved_columns

log = logging.getLogger("ingest.cdc")
parquet_encoding.install()  # as ingest/load.py does: batches are written by dlt's arrow-to-parquet writer
load_wakeup.install()  # dlt's loader does not sleep 1 s on a job finished on creation (the state file)
SOURCE_NAME = "postgres_cdc"
DEFAULT_BATCH_CHANGES = 200_000


def table_of(job: JobConfig) -> tuple[str, str]:
    return (job.source_schema or "public", job.source_table or "")


def lock_name(connection: str) -> str:
    return f"cdc_{connection}"


@dataclass
class _Context:
    jobs: list[JobConfig]
    run: RunContext
    settings: Settings
    results: dict[str, JobResult]
    held: LockHandle | None = None
    connection: str = ""
    slot: str = ""
    publication: str = ""
    url: str = ""
    cursor: Any = None
    pipeline: Any = None
    decoder: Decoder | None = None
    by_table: dict[tuple[str, str], JobConfig] = field(default_factory=dict)
    blocked: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    """Tables with reserved columns -> those columns (by the catalog, then the relation messages)."""
    scratch: Path = Path()
    """The batch's scratch folder (spill.py): `scratch_dir`."""

    @property
    def tables(self) -> list[str]:
        return sorted(f"{s}.{t}" for s, t in self.by_table)


def load_connection(jobs: list[JobConfig], run: RunContext, settings: Settings, lock: JobLock) -> list[JobResult]:
    """Run the CDC jobs of one connection (all of them: one slot feeds them all); one result
    per job, never raises for a job-level problem."""
    started = datetime.now(timezone.utc).isoformat()
    clock = time.perf_counter()
    results = {j.job_name: JobResult(job_name=j.job_name, status=JobStatus.FAILED, run_id=run.run_id,
                                     table_name=j.table_name, started_at=started) for j in jobs}
    connection = jobs[0].connection or ""
    blocked: dict[tuple[str, str], list[str]] = {}
    try:
        with lock.hold(lock_name(connection), holder=f"run {run.run_id} since {started}") as held:
            ctx = _Context(jobs, run, settings, results, held, connection, slot_name(connection),
                           publication_name(connection), by_table={table_of(j): j for j in jobs}, blocked=blocked)
            _load(ctx)
        status, error_class, message = JobStatus.SUCCEEDED, None, None
    except JobLockedError as exc:
        status, error_class, message = JobStatus.SKIPPED, type(exc).__name__, f"skipped: {exc}"
    except Exception as exc:  # every failure becomes a value, as in ingest/load.py
        error = classify(exc)
        status, error_class, message = JobStatus.FAILED, type(error).__name__, str(error)
        log.error("cdc connection %s failed: %s: %s", connection, error_class, message)
    finished = datetime.now(timezone.utc).isoformat()
    for result in results.values():
        result.status, result.error_class, result.error_message = status, error_class, message
        result.finished_at, result.duration_s = finished, round(time.perf_counter() - clock, 3)
    if status is JobStatus.SUCCEEDED:
        _fail_blocked(jobs, results, blocked)
    return list(results.values())


def _fail_blocked(jobs: list[JobConfig], results: dict[str, JobResult],
                  blocked: dict[tuple[str, str], list[str]]) -> None:
    """The jobs of blocked tables fail, naming the columns; the others keep their result."""
    for job in jobs:
        if table_of(job) not in blocked:
            continue
        table = ".".join(table_of(job))
        error = ReservedColumnError(
            f"job '{job.job_name}': {reserved_column_message(table, blocked[table_of(job)])}. Its changes are skipped"
            " while it has them (the connection's other tables go on); once the column is renamed or dropped, the"
            f" next run reloads the connection's CDC tables from a new snapshot, so that {table} is exact again")
        result = results[job.job_name]
        result.status, result.error_class, result.error_message = JobStatus.FAILED, type(error).__name__, str(error)
        result.watermark_after = None  # the slot's LSN is not this table's: its changes were skipped
        log.error("cdc %s: %s", job.connection, error)


def _load(ctx: _Context) -> None:
    for result in ctx.results.values():
        result.cdc = {"slot": ctx.slot, "connection": ctx.connection, "publication": ctx.publication, "changes": 0,
                      "snapshot_rows": 0, "inserts": 0, "updates": 0, "deletes": 0, "batches": 0,
                      "alert_threshold_bytes": ctx.settings.cdc_lag_alert_bytes}
    ctx.url = slots.dsn(ctx.connection)
    ctx.scratch = scratch_dir(ctx.settings, ctx.connection)
    spill.clear(ctx.scratch)  # what a killed run left: never needed (dlt's package holds what it extracted)
    with slots.connect(ctx.connection, ctx.url) as conn:
        ctx.cursor = conn.cursor()
        require_prerequisites(ctx.cursor, ctx.jobs)
        ctx.blocked.update(_reserved_by_catalog(ctx))
        fresh_machine = not (working_dir(ctx.settings) / pipeline_name(ctx.connection)).exists()
        ctx.pipeline = _pipeline(ctx)
        _claim_tables(ctx)
        _repair_lake(ctx, fresh_machine)
        _finish_pending(ctx.pipeline)
        state = landed_state(ctx.pipeline)
        _merge_staged(ctx, state, pending=True)
        ctx.decoder = Decoder(ctx.cursor, {t: tuple(k.lower() for k in j.primary_key) for t, j in ctx.by_table.items()},
                              ctx.pipeline.destination.capabilities(), ctx.blocked)
        try:
            if _needs_snapshot(ctx, state):
                state = _initial_snapshot(ctx, "first load" if not state else "re-snapshot")
            else:  # a killed run may have committed a batch without moving the slot: move it to the lake
                slots.advance(ctx.cursor, ctx.slot, int(state["end_lsn"]))
            stop_at = slots.current_lsn(ctx.cursor)
            while state is not None:
                state = _one_batch(ctx, state, stop_at)
        except BaseException:
            _report_slot(ctx, strict=False)  # a failing load is when a slot grows: still say how much
            raise
        _report_slot(ctx, strict=True)
        _record_drift(ctx)


def _reserved_by_catalog(ctx: _Context) -> dict[tuple[str, str], list[str]]:
    """The tables whose catalog shows reserved columns -> those columns."""
    found = {key: reserved_columns(name for name, _oid, _mod in _catalog(ctx.cursor, *key)) for key in ctx.by_table}
    return {key: names for key, names in found.items() if names}


def _names(keys: Any) -> list[str]:
    return sorted(f"{s}.{t}" for s, t in keys)


def scratch_dir(settings: Settings, connection: str) -> Path:
    """Where a batch's decoded changes wait while it lands: in dlt's working folder, beside the
    connection's pipeline folder."""
    return working_dir(settings) / f"cdc-spill-{pipeline_name(connection)}"


def _pipeline(ctx: _Context) -> Any:
    name = pipeline_name(ctx.connection)
    # snapshot rows and change batches come as arrow: dlt gives them the `_dlt_id` and
    # `_dlt_load_id` it gives Python rows (its parquet normalizer's own options, scoped to this
    # pipeline), so the lake's columns are those of every other load
    for option in ("ADD_DLT_ID", "ADD_DLT_LOAD_ID"):
        os.environ[f"{name.upper()}__NORMALIZE__PARQUET_NORMALIZER__{option}"] = "true"
    pipeline = dlt.pipeline(pipeline_name=name, pipelines_dir=str(working_dir(ctx.settings)),
                            destination=make_destination(ctx.settings, current_datetime=ctx.run.partition_datetime),
                            dataset_name=ctx.settings.dataset)
    fence_commit(pipeline, ctx.held)  # the lock must still be ours right before dlt commits
    return pipeline


def _claim_tables(ctx: _Context) -> None:
    """Every table of the connection is claimed before anything is written (ingest/lake/owners.py):
    one table another job owns refuses the connection's load (TableOwnedError)."""
    from ingest.lake.owners import claim_pipeline_tables

    for job_name, consents in claim_pipeline_tables(ctx.pipeline, ctx.jobs, ctx.run).items():
        ctx.results[job_name].consents += consents


def _repair_lake(ctx: _Context, fresh_machine: bool) -> None:
    """What a killed load left half done in the lake (ingest/lake/repair.py): a half-written state
    file, and on a machine without the load's package (`fresh_machine`: the pipeline's working
    folder was missing) the files the load appended without committing its state. They are
    removed and the lake's state is the one before, so the slot (never advanced past the lake)
    gives those changes again."""
    from ingest.lake.repair import repair_pipeline

    appended = sorted(j.table_name for j in ctx.jobs if landing.landing_of(j) is landing.Landing.PARQUET)
    repair_pipeline(ctx.pipeline, SOURCE_NAME, sorted(j.table_name for j in ctx.jobs), keep=_snapshot_file,
                    uncommitted_in=appended if fresh_machine else ())


def _snapshot_file(fs: Any, path: str) -> bool:
    """Whether a parquet file holds snapshot rows (`_cdc_commit_ts` empty in every row, by its
    footer; True when the footer cannot say). A killed load of a snapshot is never rolled back:
    it replaced the table (the old files are gone) and the new slot continues after it."""
    import pyarrow.parquet as pq

    with fs.open(path, "rb") as handle:
        meta = pq.ParquetFile(handle).metadata
        names = [meta.schema.column(i).name for i in range(meta.num_columns)]
        if COMMIT_TS not in names:
            return True
        column = names.index(COMMIT_TS)
        for group in range(meta.num_row_groups):
            stats = meta.row_group(group).column(column).statistics
            if stats is None or not stats.has_null_count:
                return True
            if stats.null_count != meta.row_group(group).num_rows:
                return False
    return True


def _finish_pending(pipeline: Any) -> None:
    """A load package a killed run left extracted or normalized is committed first: its state
    then says what the lake holds."""
    if pipeline.list_extracted_load_packages():
        pipeline.normalize()
    if pipeline.list_normalized_load_packages():
        pipeline.load()
    pipeline.sync_destination()
    synced_for_this_run(pipeline)


def landed_state(pipeline: Any) -> dict[str, Any]:
    """{"slot", "tables", "commit_lsn", "end_lsn"} of the last batch the lake holds; {} before the first."""
    return dict(pipeline.state.get("sources", {}).get(SOURCE_NAME, {}).get("cdc", {}))


def _needs_snapshot(ctx: _Context, state: dict[str, Any]) -> bool:
    info = slots.slot_info(ctx.cursor, ctx.slot)
    if not state:
        return True
    if state.get("tables") != ctx.tables:
        log.warning("cdc %s: the connection's CDC tables changed (%s -> %s): reloading them from a new snapshot",
                    ctx.connection, ", ".join(state.get("tables", [])), ", ".join(ctx.tables))
        return True
    if info is None:
        log.warning("cdc %s: slot %s is gone: reloading the tables from a new snapshot", ctx.connection, ctx.slot)
        return True
    readable = set(state.get("blocked", [])) - set(_names(ctx.blocked))
    if readable:
        log.warning("cdc %s: %s no longer has reserved columns and missed changes: reloading the tables from a new"
                    " snapshot", ctx.connection, ", ".join(sorted(readable)))
        return True
    return False


def _initial_snapshot(ctx: _Context, why: str) -> dict[str, Any]:
    """Publication, a new slot, and every table read in the slot's exported snapshot, replacing
    the lake's tables in one load."""
    slots.drop_slot(ctx.cursor, ctx.slot)
    slots.set_publication(ctx.cursor, ctx.publication, sorted(ctx.by_table))
    with slots.create_slot(ctx.url, ctx.slot) as start:
        import psycopg2

        snap = psycopg2.connect(ctx.url, application_name="ingest-cdc-snapshot")
        try:
            slots.session_settings(snap)
            snap.commit()
            snap.set_session(isolation_level="REPEATABLE READ", readonly=True)
            snap.cursor().execute("SET TRANSACTION SNAPSHOT %s", (start.snapshot_name,))
            readable = [j for j in ctx.jobs if table_of(j) not in ctx.blocked]  # the others: not snapshot
            state = {"slot": ctx.slot, "tables": ctx.tables, "commit_lsn": start.consistent_lsn,
                     "end_lsn": start.consistent_lsn, "blocked": _names(ctx.blocked),
                     "staged": {j.table_name: {"kind": "snapshot", "lsn": start.consistent_lsn}
                                for j in readable if landing.staged(j, snapshot=True)}}
            resources = [_snapshot_resource(ctx, snap, job, start.consistent_lsn, start.snapshot_name)
                         for job in readable]
            _run(ctx, resources, state, snapshot=True)
        finally:
            snap.close()
    log.info("cdc %s: %s from the snapshot at %s", ctx.connection, why, lsn_text(start.consistent_lsn))
    return state


def _catalog(cursor: Any, schema: str, table: str) -> list[tuple[str, int, int]]:
    """(name, type oid, type modifier) of each column, in order."""
    cursor.execute("""SELECT a.attname, a.atttypid, a.atttypmod FROM pg_attribute a
                        JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                       WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped
                       ORDER BY a.attnum""", (schema, table))
    return [(name, int(oid), int(modifier)) for name, oid, modifier in cursor.fetchall()]


def _snapshot_resource(ctx: _Context, snap: Any, job: JobConfig, lsn: int, snapshot_name: str) -> Any:
    """The job's rows in the slot's snapshot: in parallel chunks when its row sets chunk_size
    (snapshot_chunks.py), else one stream on `snap`."""
    schema, table = table_of(job)
    catalog = _catalog(snap.cursor(), schema, table)
    columns = [typed_column(name, oid, modifier, snap.cursor()) for name, oid, modifier in catalog]
    extra = {OP: "I", LSN: lsn, COMMIT_TS: None, SEQ: 0, **landing.snapshot_columns(job)}
    if job.chunk_size is not None:
        ranges, how = snapshot_chunks.plan_chunks(snap.cursor(), schema, table, job.chunk_size)
        log.info("cdc %s: snapshot of %s.%s: %s", ctx.connection, schema, table, how)
        if ranges:
            return landing.resource(job, _chunked_rows(ctx, job, catalog, columns, extra, ranges, snapshot_name),
                                    columns, snapshot=True)
    return landing.resource(job, _streamed_rows(ctx, snap, job, catalog, columns, extra), columns, snapshot=True)


def _streamed_rows(ctx: _Context, snap: Any, job: JobConfig, catalog: list[tuple[str, int, int]],
                   columns: list[TypedColumn], extra: dict[str, Any]) -> Iterator[Any]:
    """The snapshot in one stream on `snap`, as arrow batches built as a chunk builds them
    (snapshot_reader.arrow_batch): dlt takes them whole instead of a Python row per value."""
    from ingest.sources.postgres_cdc.snapshot_reader import BATCH_ROWS, arrow_batch, snapshot_query

    query = snapshot_query(catalog, table_of(job))
    schema = _snapshot_schema(ctx, job, columns, extra)
    result = ctx.results[job.job_name]
    with snap.cursor(name=f"snapshot_{job.job_name}") as cur:
        cur.itersize = BATCH_ROWS
        cur.execute(query)
        while page := cur.fetchmany(BATCH_ROWS):
            result.cdc["snapshot_rows"] += len(page)
            yield arrow_batch(page, columns, schema, extra)


def _snapshot_schema(ctx: _Context, job: JobConfig, columns: list[TypedColumn], extra: dict[str, Any]) -> Any:
    hints = landing.column_hints(job, columns, snapshot=True)
    return spill.arrow_schema([hints[name] for name in [c.name for c in columns] + list(extra)],
                              ctx.pipeline.destination.capabilities())


def _chunked_rows(ctx: _Context, job: JobConfig, catalog: list[tuple[str, int, int]], columns: list[TypedColumn],
                  extra: dict[str, Any], ranges: list[snapshot_chunks.BlockRange], snapshot_name: str) -> Iterator[Any]:
    schema = _snapshot_schema(ctx, job, columns, extra)
    task = {"url": ctx.url, "snapshot": snapshot_name, "table": list(table_of(job)), "catalog": catalog,
            "schema": snapshot_chunks.encoded_schema(schema), "extra": extra}
    reads = snapshot_chunks.ChunkReads(job.job_name, task, ranges, ctx.settings.max_workers,
                                       ctx.scratch / "snapshot" / job.job_name)  # cleared with it at each run's start
    result = ctx.results[job.job_name]
    for batch in reads.batches():
        result.cdc["snapshot_rows"] += batch.num_rows
        yield batch


def _run(ctx: _Context, resources: list[Any], state: dict[str, Any], snapshot: bool) -> None:
    """One dlt load of every resource, the new state committed with it."""

    def landed() -> Iterator[Any]:  # the state goes with the data (set while extracting: dlt keeps it)
        dlt.current.source_state()["cdc"] = dict(state)
        yield from ()

    @dlt.source(name=SOURCE_NAME, max_table_nesting=0)
    def cdc_source() -> Any:
        return [*resources, dlt.resource(landed, name="_cdc_state")]

    info = ctx.pipeline.run(cdc_source(), loader_file_format="parquet")
    load_id = info.loads_ids[-1] if info.loads_ids else None
    counts = ctx.pipeline.last_trace.last_normalize_info
    row_counts = counts.row_counts if counts else {}
    for job in ctx.jobs:
        result = ctx.results[job.job_name]
        result.rows_processed += sum(int(n) for table, n in row_counts.items()
                                     if table in (job.table_name, *landing.stage_tables(job)))
        result.load_id = load_id or result.load_id
        result.table_format = job.table_format.value
        result.cdc["batches"] += 0 if snapshot else 1
    _merge_staged(ctx, state, pending=False)


def _merge_staged(ctx: _Context, state: dict[str, Any], pending: bool) -> None:
    """Merge the stages dlt just committed with `state` into their tables (ingest/lake/cdc_merge.py,
    cdc_scd2.py); `pending`: before reading, what a killed run staged and may not have merged
    (a merged batch is recognised and skipped)."""
    for job in ctx.jobs:
        entry = state.get("staged", {}).get(job.table_name)
        if entry is None or (not pending and int(entry["lsn"]) != int(state["commit_lsn"])):
            continue
        if ctx.held is not None:
            ctx.held.check()  # the MERGE writes the table: fenced as dlt's commit is (LockLostError)
        report = landing.apply_staged(ctx.pipeline, job, entry, ctx.run.partition_datetime)
        result = ctx.results[job.job_name]
        if job.scd2:
            result.scd2 = combined(result.scd2, report)
        else:
            result.cdc["merge"] = combined(result.cdc.get("merge"), report)
        if report.get("version") is not None:
            result.delta_version = report["version"]


def _one_batch(ctx: _Context, state: dict[str, Any], stop_at: int) -> dict[str, Any] | None:
    """Read, land, advance one batch; None when caught up (nothing more before `stop_at`). The
    slot is where the lake is when it starts (moved once before the first batch, then at the end
    of each). The batch's decoded rows wait in the scratch folder (spill.py), removed after."""
    try:
        return _read_and_land(ctx, state, stop_at, Spill(ctx.scratch, ctx.settings.cdc_spill_block_changes))
    finally:
        spill.clear(ctx.scratch)


def _read_and_land(ctx: _Context, state: dict[str, Any], stop_at: int, scratch: Spill) -> dict[str, Any] | None:
    with slots.peek(ctx.cursor, ctx.slot, ctx.publication, stop_at, ctx.settings.cdc_batch_changes) as messages:
        batch = ctx.decoder.batch(messages, int(state["commit_lsn"]), scratch)
    if batch.last_end_lsn is None:  # nothing read: caught up
        return None
    ctx.decoder.skipped.update(batch.truncated & set(ctx.blocked))  # a TRUNCATE of a blocked table is missed too
    if batch.truncated & (set(ctx.by_table) - set(ctx.blocked)):
        names = ", ".join(_names(batch.truncated & (set(ctx.by_table) - set(ctx.blocked))))
        log.warning("cdc %s: %s truncated: reloading the connection's tables from a new snapshot", ctx.connection, names)
        _initial_snapshot(ctx, f"{names} truncated: re-snapshot")
        for result in ctx.results.values():
            result.cdc["truncated"] = names
        return None
    new_state = dict(state)
    if batch.last_commit_lsn is not None:
        new_state.update(commit_lsn=batch.last_commit_lsn, end_lsn=batch.last_end_lsn)
        _land(ctx, batch, new_state)
    else:
        new_state.update(end_lsn=max(int(state["end_lsn"]), batch.last_end_lsn))
    slots.advance(ctx.cursor, ctx.slot, batch.last_end_lsn)  # only now: the lake holds the batch
    return new_state if batch.last_end_lsn < stop_at else None


def _land(ctx: _Context, batch: Any, state: dict[str, Any]) -> None:
    resources = []
    for key, job in ctx.by_table.items():
        changes = batch.tables.get(key)
        if changes is not None and key in ctx.blocked:  # decoded before a relation message named the column
            ctx.decoder.skipped.add(key)
            continue
        if changes is None:
            continue
        data = landing.batch_data(job, changes.spill, ctx.decoder.key_of(*key))
        if landing.staged(job, snapshot=False):
            state["staged"] = {**state.get("staged", {}),
                               job.table_name: {"kind": "changes", "lsn": state["commit_lsn"]}}
        result = ctx.results[job.job_name]
        result.cdc["changes"] += changes.changes
        for op, name in (("I", "inserts"), ("U", "updates"), ("D", "deletes")):
            result.cdc[name] += changes.counts[op]
        resources.append(landing.resource(job, data, changes.columns, snapshot=False))
    state["blocked"] = sorted(set(state.get("blocked", [])) | set(_names(ctx.decoder.skipped)))
    _run(ctx, resources, state, snapshot=False)


def _record_drift(ctx: _Context) -> None:
    """Each job's columns (the last relation message the log sent for its table, else the
    catalog's) through the schema drift check and its history (ingest/checks/post_load.py): a
    column added at the source is recorded as drift. Reported, never failing the load."""
    from ingest.checks.post_load import column_normalizer, record_drift
    from ingest.checks.schema_drift import snapshot

    for key, job in ctx.by_table.items():
        if key in ctx.blocked:
            continue
        typed = ctx.decoder.columns_of(*key) if ctx.decoder else None
        typed = typed or [typed_column(name, oid, modifier, ctx.cursor)
                          for name, oid, modifier in _catalog(ctx.cursor, *key)]
        columns = snapshot({c.name: c.hint for c in typed}, column_normalizer(ctx.pipeline))
        record_drift(job, ctx.pipeline, columns, ctx.run, ctx.results[job.job_name])


def _report_slot(ctx: _Context, strict: bool) -> None:
    """The slot's retained WAL and lag into every job's result. `strict=False` (the load failed):
    best effort, never raises (the load's own error is the one to report)."""
    try:
        info = slots.slot_info(ctx.cursor, ctx.slot)
    except Exception as exc:
        if strict:
            raise
        log.warning("cdc %s: slot %s not measured after the failure: %s", ctx.connection, ctx.slot, type(exc).__name__)
        return
    if info is None:
        if strict:
            raise CdcSlotError(f"replication slot {ctx.slot} vanished during the run")
        return
    landed = landed_state(ctx.pipeline) if strict else {}
    for result in ctx.results.values():
        result.cdc.update(info.to_dict())
        if strict:
            result.cdc["lsn"] = lsn_text(int(landed.get("commit_lsn", 0)))
            result.watermark_after = result.cdc["lsn"]

"""The three steps of a chunked load, each run on its own (a job process locally, an activity
on Azure) and each returning a small JSON document (README "Chunked loads"):

- split: decide whether this load is chunked (FULL, force FULL, a backfill, or an INCREMENTAL
  job with no state yet), find the split column and balanced boundaries
  (ingest/sources/chunk_ranges.py) and write the manifest to the lake's staging folder
  (ingest/lake/chunk_staging.py); a manifest of the same load left by a crashed run is kept,
  with its finished chunks.
- chunk: read one range [low, high) of the table, with the job's filters, run-start cap and
  window, as the plain load would, and stage it: as the parquet files dlt's extract writes for
  the table through the job's own resource (staged_files.py), or, for the jobs that module
  leaves out, as raw batches; then count the source's rows of the same range (the chunk's
  row-count check) and write `done.json`. A chunk already done is not read again (idempotent).
- commit: the job's own load (ingest/load.py run_job, under the job's lock): dlt's files are
  imported into its load as they are and the cursor's state set to the highest watermark of all
  chunks (staged_files.py); raw batches are fed through the very dlt resource the plain load
  uses. Either way the same hints, table format and checks; one dlt load publishes the table
  (parquet: dlt's replace; delta: one commit). The staging folder is removed after it succeeded.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import tempfile
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterator

import sqlalchemy as sa

from ingest.checks.rowcount import DEFAULT_TOLERANCE_PCT, evaluate
from ingest.config.model import JobConfig, LoadType
from ingest.core import fork_safety, progress
from ingest.core.classify import classify, safe_message
from ingest.core.errors import ChunkedLoadError
from ingest.core.keyvault.audit import job_scope
from ingest.core.result import JobResult, JobStatus, RunContext
from ingest.core.retry import call_with_retry
from ingest.core.settings import Settings
from ingest.drivers.chunks import source_stats, staged_files
from ingest.lake import chunk_names
from ingest.lake.chunk_staging import ChunkStage
from ingest.lake.locks import JobLock
from ingest.lake.identity import lake_identity
from ingest.plan.load_modes import NORMAL, for_lake, load_mode
from ingest.sources import chunk_ranges
from ingest.sources.job_source import SqlJobSource, open_source
from ingest.sources.strategies import Strategies

log = logging.getLogger("ingest.chunks")

BATCHES = "batches"
"""The layout of chunks that stage raw batches (the other: staged_files.LAYOUT)."""
RESUME_WITHIN = timedelta(hours=24)
"""Staged chunks older than this are not reused: a FULL table would mix day-old chunks with
fresh ones. A crashed load re-run within it continues; later, the load starts afresh."""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def signature(job: JobConfig, run: RunContext) -> str:
    """What makes two runs the same load: the job's definition, and the run's mode and window
    (not the run itself: a re-run after a crash continues the chunks of the one that crashed)."""
    definition = {k: v for k, v in job.to_dict().items() if k != "row"}
    mode = load_mode(job, run)
    payload = {"job": definition, "mode": mode.kind,
               "window": None if mode.window is None else [mode.window.start, mode.window.end]}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:24]


def _window(job: JobConfig, run: RunContext) -> dict[str, Any]:
    """The watermark window every chunk reads, in workbook form (text or number)."""
    mode = load_mode(job, run)
    if not job.is_incremental:
        return {"start": None, "end": None}
    if mode.window is not None:
        return {"start": mode.window.start, "end": mode.window.end}
    return {"start": job.last_watermark, "end": None}  # a first load starts at the workbook's watermark


def _failed(job: JobConfig, run: RunContext, started_at: str, exc: BaseException, **extra: Any) -> dict[str, Any]:
    error = classify(exc)
    result = JobResult(job_name=job.job_name, status=JobStatus.FAILED, run_id=run.run_id,
                       table_name=job.table_name, started_at=started_at, finished_at=_now(),
                       workbook_watermark=job.last_watermark, error_class=type(error).__name__,
                       error_message=str(error))
    return {**result.to_dict(), **extra}


# --- split -----------------------------------------------------------------------------------

def split_task(job: JobConfig, run: RunContext, settings: Settings) -> dict[str, Any]:
    """{"status": "succeeded", "plain": bool, "chunks": [ids], "done": [ids]} or a failed
    JobResult as a dict (the job's result: nothing was loaded)."""
    started = _now()
    fork_safety.note_job_ran_here()  # source drivers may now hold native threads in this process
    try:
        with job_scope(job.job_name):
            return call_with_retry(lambda: _split(job, run, settings), settings.retry_policy,
                                   f"job {job.job_name} (split)")
    except Exception as exc:  # a failure is a value; see ingest/load.py
        log.error("job %s: chunks could not be planned: %s", job.job_name, exc)
        return _failed(job, run, started, exc)


def _split(job: JobConfig, run: RunContext, settings: Settings) -> dict[str, Any]:
    from ingest.load import lake_last_value
    from ingest.lake.owners import refuse_if_owned

    refuse_if_owned(job, settings, run.take_over)  # another job's table: before any chunk is staged
    # an INCREMENTAL job whose state in the lake holds a watermark loads plainly
    if job.is_incremental and load_mode(job, run).kind == NORMAL \
            and lake_last_value(job, settings) is not None:
        return {"status": "succeeded", "plain": True, "why": "the job has a watermark: an incremental load"}
    stage = ChunkStage.open(settings, job.job_name)
    wanted, layout = signature(job, run), _layout(job)
    manifest = stage.manifest()
    if manifest is None or manifest.get("signature") != wanted or _stale(manifest, run) \
            or manifest.get("layout") != layout:  # staged by another version of this code
        stage.clear()  # another load's leftovers: start afresh
        staged_files.clear_scratch(settings, job.job_name)
        manifest = _new_manifest(job, run, settings, wanted, layout)
        if len(manifest["chunks"]) < 2:
            return {"status": "succeeded", "plain": True, "why": "one chunk: the table is small"}
        stage.write_manifest(manifest)
    else:
        log.info("job %s: continuing the chunks of run %s", job.job_name, manifest["run_id"])
    ids = [c["id"] for c in manifest["chunks"]]
    done = [chunk for chunk in ids if stage.done(chunk) is not None]
    progress_total = {"total": len(ids), "method": manifest["method"], "split_column": manifest["split"]["name"]}
    return {"status": "succeeded", "plain": False, "chunks": ids, "done": done, **progress_total}


def _stale(manifest: dict[str, Any], run: RunContext) -> bool:
    def when(text: str) -> datetime:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))

    try:
        return when(run.started_at) - when(manifest["run_started_at"]) > RESUME_WITHIN
    except (KeyError, TypeError, ValueError):
        return True


def _new_manifest(job: JobConfig, run: RunContext, settings: Settings, wanted: str, layout: str
                  ) -> dict[str, Any]:
    window = _window(for_lake(job, lake_identity(settings)), run)  # a watermark from another lake starts nothing
    source = _open(job, settings, run.started_at)
    try:
        table = source.reflected.table
        split = chunk_ranges.split_column(job, table)
        where = _load_where(source, window, table)
        with source.engine.connect() as connection:
            count = chunk_ranges.chunk_count(connection, table, where, job.chunk_size)
            bounds, method = chunk_ranges.boundaries(connection, table, split, where, count)
    finally:
        source.close()
    chunks = [{**c, "low": chunk_ranges.encode(c["low"]), "high": chunk_ranges.encode(c["high"])}
              for c in chunk_ranges.chunk_ranges(bounds, split.nullable)]
    log.info("job %s: %d chunk(s) by %s (%s)", job.job_name, len(chunks), split.name, method)
    return {"signature": wanted, "run_id": run.run_id, "run_started_at": run.started_at, "window": window,
            "split": {"name": split.name, "kind": split.kind}, "method": method, "chunks": chunks,
            "layout": layout}


def _layout(job: JobConfig) -> str:
    """How the chunks stage their rows: dlt's files (staged_files.py) or raw batches. Resolved
    (dlt's configuration) once per step: the split writes it in the manifest, a chunk checks it
    still holds and stages in the manifest's layout."""
    return staged_files.LAYOUT if staged_files.stages_dlt_files(job) else BATCHES


def _open(job: JobConfig, settings: Settings, run_started_at: str) -> SqlJobSource:
    source = open_source(job, settings, datetime.fromisoformat(run_started_at.replace("Z", "+00:00")))
    if not isinstance(source, SqlJobSource):
        raise ChunkedLoadError(f"job '{job.job_name}': chunk_size applies to SQL sources only")
    return source


def _load_where(source: SqlJobSource, window: dict[str, Any], table: sa.Table) -> list[Any]:
    """What the plain load's query holds besides its columns: the job's filters, the run-start
    cap and the watermark window (start <= w < end), on `table` (the reflected one, or the copy
    dlt's query is built on)."""
    from ingest.sources.sql import coerce_watermark

    strategies, job = source.strategies, source.job
    where = list(strategies.row_filters(table))
    name = source.reflected.watermark_column
    if name is None:
        return where
    column = table.c[name]
    if job.is_incremental:  # dlt's cursor leaves out rows without a watermark (on_cursor_value_missing)
        where.append(column.isnot(None))
    if strategies.cap is not None:
        where.append(column < strategies.cap)
    kind = source.reflected.columns[name]
    if window.get("start") is not None:
        where.append(column >= coerce_watermark(window["start"], kind, job))
    if window.get("end") is not None:
        where.append(column < coerce_watermark(window["end"], kind, job))
    return where


# --- chunk -----------------------------------------------------------------------------------

def chunk_task(job: JobConfig, run: RunContext, settings: Settings, chunk_id: str) -> dict[str, Any]:
    """{"status": "succeeded", "chunk", "rows", "source_rows", "rowcount"} or {"status":
    "failed", "chunk", "error_class", "error_message"}; retried here on transient errors."""
    started = _now()
    fork_safety.note_job_ran_here()
    try:
        if not chunk_names.is_chunk_id(chunk_id):  # an activity's input: refused before it names a path
            raise ChunkedLoadError(f"job '{job.job_name}': {chunk_id[:20]!r} is not a chunk name")
        with job_scope(job.job_name):
            record = call_with_retry(lambda: _load_chunk(job, run, settings, chunk_id), settings.retry_policy,
                                     f"job {job.job_name} chunk {chunk_id}")
        return {"status": "succeeded", "chunk": chunk_id, **record}
    except Exception as exc:  # a failure is a value: the other chunks run on
        failed = _failed(job, run, started, exc)
        log.error("job %s chunk %s failed: %s: %s", job.job_name, chunk_id, failed["error_class"],
                  failed["error_message"])
        return {"status": "failed", "chunk": chunk_id, "error_class": failed["error_class"],
                "error_message": failed["error_message"]}


@dataclass
class _ChunkStrategies(Strategies):
    """The job's strategies plus the chunk's range and window in the query."""

    extra: Callable[[sa.Table], list[Any]] = field(default=lambda table: [], repr=False)

    def query_adapter(self, dialect_adapter: Callable[..., Any] | None) -> Callable[..., Any]:
        inner = super().query_adapter(dialect_adapter)

        def adapt(query: Any, table: sa.Table, incremental: Any = None, engine: Any = None) -> Any:
            return inner(query.where(*self.extra(table)), table, incremental, engine)

        return adapt


def _load_chunk(job: JobConfig, run: RunContext, settings: Settings, chunk_id: str) -> dict[str, Any]:
    stage = ChunkStage.open(settings, job.job_name)
    manifest = stage.manifest()
    chunk = next((c for c in (manifest or {}).get("chunks", []) if c["id"] == chunk_id), None)
    if chunk is None or manifest.get("signature") != signature(job, run):
        raise ChunkedLoadError(f"job '{job.job_name}': chunk {chunk_id} is not in the staged manifest of this"
                               " load (another load replaced it); the next run plans the chunks again")
    if (record := stage.done(chunk_id)) is not None:
        return record  # landed before (a re-delivered activity, a re-run): not read again
    if manifest.get("layout") != _layout(job):
        raise ChunkedLoadError(f"job '{job.job_name}': how chunks are staged changed since this load was planned"
                               " (dlt's configuration); the next run plans the chunks again")
    clock = time.perf_counter()
    kind = manifest["split"]["kind"]
    bounds = {**chunk, "low": chunk_ranges.decode(chunk["low"], kind), "high": chunk_ranges.decode(chunk["high"], kind)}
    source = _open(job, settings, manifest["run_started_at"])
    try:
        def clauses(table: sa.Table) -> list[Any]:
            return [*_load_where(source, manifest["window"], table),
                    *chunk_ranges.range_clause(table.c[manifest["split"]["name"]], bounds)]

        record = _stage_chunk(job, run, settings, source, stage, chunk_id, clauses, manifest["layout"])
        record.update(_count_source(job, run, settings, source, clauses))
    finally:
        source.close()
    tolerance = job.rowcount_tolerance_pct if job.rowcount_tolerance_pct is not None else DEFAULT_TOLERANCE_PCT
    check = evaluate(record["rows"], record["rows"], record["source_rows"], record["source_rows"], tolerance)
    record["rowcount"] = check.status
    record["seconds"] = round(time.perf_counter() - clock, 3)  # read, stage and count
    if check.status != "ok":
        log.warning("job %s chunk %s: row count %s: %s", job.job_name, chunk_id, check.status, check.message)
    stage.mark_done(chunk_id, record)
    return record


def _count_source(job: JobConfig, run: RunContext, settings: Settings, source: SqlJobSource,
                  clauses: Callable[[sa.Table], list[Any]]) -> dict[str, Any]:
    """The source's rows of the chunk's range (its row-count check) and, when the job's value
    check applies, each column's statistics over the same rows in the same scan
    (source_stats.py: the commit sums them instead of scanning the whole table)."""
    from ingest import load

    table = source.reflected.table
    if not load._why_the_job_is_not_checked(job, load_mode(job, run), settings):
        try:
            stats = source.value_stats(None, None, True, clauses(table))
        except Exception as exc:  # as for the plain load: the value check is then skipped, the chunk loads
            log.warning("job %s: value check scan of a chunk failed: %s: %s", job.job_name, type(exc).__name__,
                        safe_message(exc))
            stats = None
        if stats is not None:
            return {"source_rows": stats[0], "source_stats": source_stats.encode(stats)}
    with source.engine.connect() as connection:
        rows = connection.execute(sa.select(sa.func.count()).select_from(table).where(*clauses(table))).scalar_one()
    return {"source_rows": int(rows)}


def _stage_chunk(job: JobConfig, run: RunContext, settings: Settings, source: SqlJobSource, stage: ChunkStage,
                 chunk_id: str, clauses: Callable[[sa.Table], list[Any]], layout: str) -> dict[str, Any]:
    """Stage the chunk's rows in `layout`, the one its manifest was planned with (_layout)."""
    if layout == staged_files.LAYOUT:
        strategies = _ChunkStrategies(**vars(source.strategies), extra=clauses)
        return staged_files.stage(job, load_mode(job, run).window, settings, source, stage, chunk_id, strategies)
    return _stage_rows(job, settings, source, stage, chunk_id, clauses)


def _stage_rows(job: JobConfig, settings: Settings, source: SqlJobSource, stage: ChunkStage, chunk_id: str,
                clauses: Callable[[sa.Table], list[Any]]) -> dict[str, Any]:
    """Read the chunk's rows as the plain load's query would (a FULL read: no cursor; the
    cursor, the maps and the table format apply once, at the commit) and stage the batches."""
    import pyarrow as pa

    from ingest.sources.sql import build_resource

    plain = replace(job, load_type=LoadType.FULL, delete_flag_column=None, detect_deleted_keys=False,
                    lookback=None, watermark_tiebreak=())
    strategies = _ChunkStrategies(**{**vars(source.strategies), "job": plain}, extra=clauses)
    resource = build_resource(plain, source.engine, source.reflected, settings.chunk_size,
                              settings.sql_backend, None, strategies)
    writer = stage.writer(chunk_id)
    try:
        for item in resource:
            if isinstance(item, pa.RecordBatch):
                item = pa.Table.from_batches([item])
            if not isinstance(item, pa.Table):
                raise ChunkedLoadError(f"job '{job.job_name}': a chunked load needs the connectorx or pyarrow"
                                       " backend (INGEST_SQL_BACKEND)")
            writer.write(item)
            progress.rows_extracted(job.job_name, item.num_rows)
    finally:
        writer.close()
    return {"layout": BATCHES, "attempt": writer.attempt, "files": writer.files, "rows": writer.rows}


# --- commit ----------------------------------------------------------------------------------

def _commit_workdir(settings: Settings) -> Any:
    """A scratch folder for the commit's imports, beside dlt's working folders of this lake."""
    from ingest.lake.destination import working_dir

    scratch = working_dir(settings)
    scratch.mkdir(parents=True, exist_ok=True)
    return tempfile.TemporaryDirectory(dir=scratch, prefix=chunk_names.COMMIT_PREFIX)


def commit_task(job: JobConfig, run: RunContext, settings: Settings, lock: JobLock | None = None) -> dict[str, Any]:
    """The job's result (a JobResult as a dict) with its `chunks` filled in."""
    from ingest import load

    started = _now()
    try:
        stage = ChunkStage.open(settings, job.job_name)
        manifest, records = _landed(job, run, stage)
    except Exception as exc:
        return _failed(job, run, started, exc)

    imported = staged_files.imports(manifest, records)
    with _commit_workdir(settings) if imported else contextlib.nullcontext() as workdir:
        try:
            feed = (staged_files.import_feed(stage, manifest, records, workdir) if imported
                    else _batches_feed(stage, manifest, records, settings))
            feed.source_stats = source_stats.merged(records)  # type: ignore[attr-defined]
        except Exception as exc:  # a done.json that does not hold what the chunk wrote
            return _failed(job, run, started, exc)
        result = load.run_job(job, run, settings, lock, feed=feed)
    result.chunks = {"total": len(records), "done": len(records), "split_column": manifest["split"]["name"],
                     "method": manifest["method"], "rows": {k: r["rows"] for k, r in records.items()},
                     "rowcount": {k: r.get("rowcount", "ok") for k, r in records.items()},
                     "seconds": {k: r.get("seconds") for k, r in records.items()}, "commit_s": result.duration_s,
                     "commit": "files imported" if imported else "rows read again"}
    if result.succeeded or result.load_id:  # published (a check after the load may still fail the job)
        stage.clear()
    return result.to_dict()


def _batches_feed(stage: ChunkStage, manifest: dict[str, Any], records: dict[str, dict],
                  settings: Settings) -> Callable[[Any], None]:
    """Staged raw batches fed through the job's resource: its cursor and maps see every row."""

    def feed(resource: Any) -> None:
        # dlt's Pipe.replace_gen: the resource reads the staged batches instead of the table;
        # every step after it (incremental cursor, maps) stays (dlt 1.31, pinned)
        original = resource._pipe.gen

        def staged() -> Iterator[Any]:
            # calling the sql_table gen binds the job's incremental cursor to this load's state
            # (dlt's IncrementalResourceWrapper binds it then); its generator is closed unread,
            # so no query runs
            unread = original() if callable(original) else None
            if hasattr(unread, "close"):
                unread.close()
            return _staged(stage, manifest, records, settings.chunk_size)

        resource._pipe.replace_gen(staged)

    return feed


def _landed(job: JobConfig, run: RunContext, stage: ChunkStage) -> tuple[dict[str, Any], dict[str, dict]]:
    manifest = stage.manifest()
    if manifest is None or manifest.get("signature") != signature(job, run):
        raise ChunkedLoadError(f"job '{job.job_name}': the staged chunks are missing or belong to another"
                               " load; nothing was published")
    records = {c["id"]: stage.done(c["id"]) for c in manifest["chunks"]}
    missing = sorted(k for k, r in records.items() if r is None)
    if missing:
        raise ChunkedLoadError(f"job '{job.job_name}': {len(missing)} of {len(records)} chunk(s) did not land"
                               f" ({', '.join(missing[:5])}); nothing was published, the next run loads them")
    layouts = {manifest.get("layout", BATCHES)} | {r.get("layout", BATCHES) for r in records.values()}  # type: ignore[union-attr]
    if len(layouts) > 1:
        raise ChunkedLoadError(f"job '{job.job_name}': its chunks were staged in different ways"
                               f" ({', '.join(sorted(map(str, layouts)))}); nothing was published (remove the job's"
                               " staging folder and run it again)")
    return manifest, records  # type: ignore[return-value]


def _staged(stage: ChunkStage, manifest: dict[str, Any], records: dict[str, dict], batch_rows: int) -> Iterator[Any]:
    for chunk in manifest["chunks"]:
        yield from stage.tables(chunk["id"], records[chunk["id"]], batch_rows)

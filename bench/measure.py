"""Child-process measurements for the benchmark: each scenario runs in a fresh Python process
(imports, reflection and exit included, as a user pays them) and prints one JSON line with
its wall time and peak RSS."""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def machine_cpu() -> tuple[int, int]:
    """(total, idle) jiffies of the whole machine (/proc/stat): how busy the cores were,
    PostgreSQL included."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return sum(fields), fields[3] + fields[4]


def _finish(started: float, **values: object) -> None:
    # the largest of this process and its children: the runner forks one process per job
    peak = max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    print(json.dumps({"wall": time.perf_counter() - started, "rss_mb": peak / 1024, **values}))


def reference(url: str, table: str, out: str, batch: int) -> None:
    """The reference: connectorx arrow_stream batches cast to the reflected types, written with
    pyarrow's ParquetWriter. No dlt: what the hardware allows for exact types."""
    started = time.perf_counter()
    import connectorx as cx
    import pyarrow as pa
    import pyarrow.parquet as pq
    import sqlalchemy as sa

    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg2://"))
    columns = sa.inspect(engine).get_columns(table)
    engine.dispose()

    def arrow_type(column_type: sa.types.TypeEngine) -> pa.DataType | None:
        if isinstance(column_type, sa.BigInteger):
            return pa.int64()
        if isinstance(column_type, sa.SmallInteger):
            return pa.int16()
        if isinstance(column_type, sa.Integer):
            return pa.int32()
        if isinstance(column_type, sa.Numeric) and not isinstance(column_type, sa.Float) and column_type.precision:
            return pa.decimal128(column_type.precision, column_type.scale or 0)
        if isinstance(column_type, sa.DateTime):
            return pa.timestamp("us", tz="UTC" if column_type.timezone else None)
        return None

    targets = {c["name"]: arrow_type(c["type"]) for c in columns}
    rows = 0
    writer = None
    for batch_ in cx.read_sql(url, f"SELECT * FROM {table}", return_type="arrow_stream", batch_size=batch):
        batch_table = pa.Table.from_batches([batch_])
        schema = pa.schema([f.with_type(targets[f.name]) if targets.get(f.name) else f for f in batch_table.schema])
        batch_table = batch_table.cast(schema, safe=True)
        if writer is None:
            writer = pq.ParquetWriter(out, batch_table.schema)
        writer.write_table(batch_table)
        rows += batch_table.num_rows
    if writer is not None:
        writer.close()
    schema = {f.name: str(f.type) for f in pq.read_schema(out)}
    _finish(started, rows=rows, schema=schema)


def _engine_settings(workdir: str, backend: str | None, workers: int, worker_mode: str):
    import os

    from ingest.lake.dlt_defaults import apply_dlt_defaults

    apply_dlt_defaults()  # as the CLI and the Functions app do
    from ingest.core.settings import Settings

    return Settings.from_env().with_overrides(
        destination=os.environ.get("INGEST_DESTINATION") or f"{workdir}/lake",
        pipelines_dir=Path(workdir) / "pipelines", sql_backend=backend, max_workers=workers,
        audit_dir=Path(workdir) / "audit", worker_mode=worker_mode)


def _jobs(tables: list[str], incremental: bool, chunks: int = 0):
    from ingest.config.model import ChunkSize, JobConfig, LoadType, SourceType

    return [JobConfig(job_name=t, enabled=True, source_type=SourceType.POSTGRES, connection="bench",
                      source_table=t, source_schema="public",
                      load_type=LoadType.INCREMENTAL if incremental else LoadType.FULL,
                      watermark_column="updated_at" if incremental else None,
                      chunk_size=ChunkSize(chunks, "chunks") if chunks > 1 else None) for t in tables]


def _lake_keys(workdir: str, results: list) -> dict[str, int]:
    """Rows and distinct ids the lake holds for the first job (a chunked load lands each row once)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    ids = [pq.read_table(Path(workdir, "lake", f), columns=["id"]).column("id") for f in results[0].files]
    rows = sum(len(i) for i in ids)
    distinct = len(pc.unique(pa.chunked_array([c for i in ids for c in i.chunks]))) if ids else 0
    return {"lake_rows": rows, "duplicate_keys": rows - distinct}


def _run_plan(jobs, settings) -> tuple[float, list]:
    from ingest.plan.planner import Plan, new_run_context
    from ingest.drivers.local.runner import execute_plan

    one = time.perf_counter()
    results = execute_plan(Plan(run=new_run_context(), jobs=jobs), settings)
    failed = [r.error_message for r in results if not r.succeeded]
    if failed:
        raise SystemExit(f"load failed: {failed[0]}")
    return time.perf_counter() - one, results


def ingest_jobs(workdir: str, tables: list[str], backend: str | None, workers: int, incremental: bool,
                repeat_in_process: int, worker_mode: str, chunks: int = 0) -> None:
    """Load `tables` with the engine (the local runner). With `repeat_in_process` > 1 the load
    runs again in the same process and the last run's time is reported too."""
    started = time.perf_counter()
    import pyarrow.parquet as pq

    settings = _engine_settings(workdir, backend, workers, worker_mode)
    jobs = _jobs(tables, incremental, chunks)
    last, results = 0.0, []
    cpu_before = machine_cpu()
    for _ in range(max(1, repeat_in_process)):
        last, results = _run_plan(jobs, settings)
    cpu_after = machine_cpu()
    busy = 1 - (cpu_after[1] - cpu_before[1]) / max(1, cpu_after[0] - cpu_before[0])
    schema = {}
    if results[0].files and "://" not in settings.destination:
        schema = {f.name: str(f.type) for f in pq.read_schema(Path(workdir, "lake", results[0].files[0]))}
    # the load's peak, before the bench's own duplicate-key check reads every id in this process
    load_peak = max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    extra = _lake_keys(workdir, results) if chunks > 1 else {}
    _finish(started, rows=sum(r.rows_processed for r in results), last_run=last, schema=schema, machine_busy=busy,
            checks=sorted({(r.rowcount or {}).get("status", "") for r in results}),
            durations={r.job_name: r.duration_s for r in results},
            chunks=[r.chunks for r in results if r.chunks], load_rss_mb=load_peak / 1024, **extra)


def incremental_sequence(workdir: str, url: str, table: str, warmup_table: str, change_sql: str,
                         rounds: int) -> None:
    """One warm process, as a Functions worker or a long-running scheduler is: a small warm-up
    load (imports, first connection), the first load of `table` (all rows), then `rounds`
    times `change_sql` (1% new rows) and the incremental load (the median is reported: one
    0.25 s load moves by a fifth with the VM's hiccups), then one with nothing new."""
    started = time.perf_counter()
    import statistics

    from bench.run import psql

    settings = _engine_settings(workdir, None, 1, "thread")
    _run_plan(_jobs([warmup_table], False), settings)
    jobs = _jobs([table], True)
    first, _ = _run_plan(jobs, settings)
    changes = []
    for _ in range(max(1, rounds)):
        psql(url, change_sql)
        changed, results = _run_plan(jobs, settings)
        changes.append(changed)
    empty, empty_results = _run_plan(jobs, settings)
    _finish(started, first=first, changed=statistics.median(changes), changed_all=changes,
            changed_rows=results[0].rows_processed, empty=empty, empty_rows=empty_results[0].rows_processed,
            rows=results[0].rows_processed)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=["reference", "ingest", "incremental"])
    parser.add_argument("--url")
    parser.add_argument("--tables", default="bench_orders")
    parser.add_argument("--workdir")
    parser.add_argument("--backend")
    parser.add_argument("--workers", type=int, default=5)
    parser.add_argument("--incremental", action="store_true")
    parser.add_argument("--repeat-in-process", type=int, default=1)
    parser.add_argument("--batch", type=int, default=100_000)
    parser.add_argument("--worker-mode", default="process", choices=["process", "thread"])
    parser.add_argument("--warmup-table")
    parser.add_argument("--change-sql")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--chunks", type=int, default=0, help="load each table in this many chunks")
    args = parser.parse_args()
    if args.kind == "reference":
        reference(args.url, args.tables, f"{args.workdir}/reference.parquet", args.batch)
    elif args.kind == "incremental":
        incremental_sequence(args.workdir, args.url, args.tables, args.warmup_table, args.change_sql, args.rounds)
    else:
        ingest_jobs(args.workdir, args.tables.split(","), args.backend, args.workers, args.incremental,
                    args.repeat_in_process, args.worker_mode, args.chunks)


if __name__ == "__main__":
    main()

"""CDC bench (issue #23 "Bench") on a throwaway PostgreSQL (tests/services.py):

- changes landed per second for N mixed changes in one transaction (0.5 N inserts, 0.3 N
  updates and 0.2 N deletes of rows the lake holds from the snapshot), per landing: delta
  (deletes delete), delta_mark (cdc_deletes mark), delta_scd2, parquet;
- the same changes read by a watermark load (INCREMENTAL on the `at` column every change sets,
  delta and parquet): its rows per second, and the deleted rows it cannot see (delta: rows the
  lake still holds that the source deleted);
- time from a small change's commit to the lake in a warm process (the median of 5 one-row
  inserts, each followed by a CDC run);
- the process's peak RSS after each landing (cumulative over the bench: one process).

    .venv/bin/python -m bench.cdc_bench [N] [landing,...]     # default 1,000,000 delta,parquet
"""

from __future__ import annotations

import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

LANDINGS = ("delta", "delta_mark", "delta_scd2", "parquet")


def _settings(fmt: str) -> Any:
    from ingest.core.settings import Settings

    base = Path(tempfile.mkdtemp(prefix=f"cdc-bench-{fmt}-"))
    return Settings(destination=str(base / "lake"), audit_dir=base / "audit", log_dir=base / "logs",
                    pipelines_dir=base / "pipelines", worker_mode="thread")


def _watermark_job(fmt: str) -> Any:
    from ingest.config.model import JobConfig, LoadType, SourceType, TableFormat

    return JobConfig(job_name="bw", enabled=True, source_type=SourceType.POSTGRES, connection="bench",
                     source_table="b", source_schema="public", target_table="b_watermark",
                     load_type=LoadType.INCREMENTAL, watermark_column="at", primary_key=("id",),
                     table_format=TableFormat(fmt))


def _watermark_load(settings: Any, fmt: str) -> tuple[int, float]:
    from ingest.load import run_job
    from ingest.plan.planner import new_run_context

    clock = time.perf_counter()  # a run context of now: a watermark load reads up to its run's start
    result = run_job(_watermark_job(fmt), new_run_context(), settings)
    seconds = time.perf_counter() - clock
    assert result.succeeded, result.error_message
    return result.rows_processed, seconds


def _source_rows(pg: Any) -> int:
    import psycopg2

    con = psycopg2.connect(pg.url())
    try:
        cur = con.cursor()
        cur.execute("SELECT count(*) FROM public.b")
        return int(cur.fetchone()[0])
    finally:
        con.close()


def bench_landing(pg: Any, fmt: str, total: int) -> None:
    from tests.cdc_helpers import cdc_job, load, sql

    settings = _settings(fmt)
    plain = fmt in ("delta", "parquet")
    preload, inserts, updates, deletes = total // 2, total * 5 // 10, total * 3 // 10, total * 2 // 10
    sql(pg, "DROP TABLE IF EXISTS public.b; CREATE TABLE public.b (id int PRIMARY KEY, amount numeric(12,2),"
            f" note text, at timestamptz); INSERT INTO b SELECT g, g / 100.0, 'note ' || g,"
            f" now() - interval '1 day' + g * interval '1 microsecond' FROM generate_series(1, {preload}) g")
    job = cdc_job("b", "bench", "public", "b", fmt)
    clock = time.perf_counter()
    first = load([job], settings)["b"]
    assert first.succeeded, first.error_message
    snapshot_s = time.perf_counter() - clock
    if plain:
        _watermark_load(settings, fmt)
    sql(pg, f"INSERT INTO b SELECT g, g / 100.0, 'note ' || g, now() + g * interval '1 microsecond' FROM"
            f" generate_series({preload + 1}, {preload + inserts}) g;"
            f" UPDATE b SET amount = amount + 1, at = now() + id * interval '1 microsecond' WHERE id <= {updates};"
            f" DELETE FROM b WHERE id > {preload - deletes} AND id <= {preload}")
    clock = time.perf_counter()
    result = load([job], settings, 2)["b"]
    seconds = time.perf_counter() - clock
    assert result.succeeded, result.error_message
    changes = result.cdc["changes"]
    print(f"{fmt}: snapshot {preload:,} rows in {snapshot_s:.1f} s; {changes:,} changes in {seconds:.1f} s ="
          f" {changes / seconds:,.0f} changes/s ({result.cdc['batches']} batches)", flush=True)
    if plain:
        rows, wm_s = _watermark_load(settings, fmt)
        line = f"  watermark load of the same changes ({fmt}): {rows:,} rows in {wm_s:.1f} s = {rows / wm_s:,.0f} rows/s"
        if fmt == "delta":
            from deltalake import DeltaTable

            lake = DeltaTable(f"{settings.destination}/{settings.dataset}/b_watermark").to_pyarrow_dataset().count_rows()
            line += f"; {lake - _source_rows(pg):,} deleted rows still in its lake (it cannot see deletes)"
        print(line, flush=True)
    latencies = []
    for i in range(5):
        sql(pg, f"INSERT INTO b VALUES ({preload + inserts + 1 + i}, 1, 'small', now())")
        clock = time.perf_counter()
        small = load([job], settings, 3 + i)["b"]
        latencies.append(time.perf_counter() - clock)
        assert small.succeeded and small.cdc["changes"] == 1, small.error_message
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  commit to lake, one row, warm process: median {statistics.median(latencies):.2f} s"
          f" (min {min(latencies):.2f}, max {max(latencies):.2f}); peak RSS so far {peak:,.0f} MiB", flush=True)
    sql(pg, "SELECT pg_drop_replication_slot('ingest_cdc_bench'); DROP PUBLICATION ingest_cdc_bench")


def main(total: int, landings: list[str]) -> None:
    from ingest.lake.dlt_defaults import apply_dlt_defaults
    from tests.services import start_postgres

    unknown = sorted(set(landings) - set(LANDINGS))
    if unknown:
        raise SystemExit(f"unknown landing {', '.join(unknown)}; choose from {', '.join(LANDINGS)}")
    apply_dlt_defaults()
    pg = start_postgres()
    try:
        os.environ["SOURCES__BENCH__CREDENTIALS"] = pg.url()
        for fmt in landings:
            bench_landing(pg, fmt, total)
    finally:
        pg.stop()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000,
         sys.argv[2].split(",") if len(sys.argv) > 2 else ["delta", "parquet"])

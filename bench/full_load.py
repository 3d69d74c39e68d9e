"""FULL-load benchmark: PostgreSQL -> local parquet lake through `ingest.load.run_job`.

    python -m bench.full_load [--rows 1000000] [--repeat 3] [--backends pyarrow,connectorx]

Starts its own PostgreSQL (tests/services.py), creates a 7-column table (bigint id, int,
numeric(12,2), short text, text with NULLs, timestamptz, timestamp), then runs each backend in
a fresh process (whole-process wall time and peak RSS, as a user pays them) and prints a
table of medians. Not part of the test run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def create_table(url: str, rows: int) -> None:
    import psycopg2

    con = psycopg2.connect(url)
    with con, con.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS bench_orders")
        cur.execute("""
            CREATE TABLE bench_orders (id bigint PRIMARY KEY, qty integer, amount numeric(12,2),
              code text, note text, created_at timestamptz, updated_at timestamp);
            INSERT INTO bench_orders SELECT g, g %% 1000, (g * 7.31) %% 1000000, 'c' || (g %% 97),
              CASE WHEN g %% 4 = 0 THEN NULL ELSE 'note ' || g END,
              '2024-01-01 00:00:00+00'::timestamptz + g * interval '1 second',
              '2024-01-01'::timestamp + g * interval '1 second'
            FROM generate_series(1, %s) g;""", (rows,))
    con.autocommit = True
    con.cursor().execute("VACUUM ANALYZE bench_orders")
    con.close()


def one(backend: str, workdir: str) -> None:
    """Child process: load once, print JSON with wall seconds, rows and parquet schema."""
    started = time.perf_counter()
    import pyarrow.parquet as pq

    from ingest.config.model import JobConfig, LoadType, SourceType
    from ingest.load import run_job
    from ingest.plan import new_run_context
    from ingest.settings import Settings

    settings = Settings(destination=f"{workdir}/lake", pipelines_dir=Path(workdir) / "pipelines",
                        sql_backend=backend)
    job = JobConfig(job_name="bench", enabled=True, source_type=SourceType.POSTGRES, connection="bench",
                    source_table="bench_orders", source_schema="public", load_type=LoadType.FULL)
    result = run_job(job, new_run_context(), settings)
    wall = time.perf_counter() - started
    schema = {}
    if result.files:
        schema = {f.name: str(f.type) for f in pq.read_schema(Path(workdir, "lake", result.files[0]))}
    print(json.dumps({"rows": result.rows_processed, "wall": wall, "status": result.status.value,
                      "error": result.error_message, "schema": schema,
                      "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--backends", default="pyarrow,connectorx")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        one(args.one, args.workdir)
        return

    sys.path.insert(0, str(REPO))
    from tests.services import start_postgres

    pg = start_postgres()
    try:
        create_table(pg.url(), args.rows)
        env = {**os.environ, "SOURCES__BENCH__CREDENTIALS": pg.url(), "RUNTIME__DLTHUB_TELEMETRY": "false"}
        rows_out = []
        for backend in args.backends.split(","):
            runs = []
            for _ in range(args.repeat):
                with tempfile.TemporaryDirectory() as workdir:
                    out = subprocess.run([sys.executable, "-m", "bench.full_load", "--one", backend,
                                          "--workdir", workdir], cwd=REPO, env=env, capture_output=True,
                                         text=True, check=True)
                    runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
            if runs[0]["status"] != "succeeded":
                raise SystemExit(f"{backend} failed: {runs[0]['error']}")
            wall = statistics.median(r["wall"] for r in runs)
            rows_out.append((backend, runs[0]["rows"], wall, runs[0]["rows"] / wall,
                             max(r["rss_mb"] for r in runs), runs[0]["schema"]))
    finally:
        pg.stop()
    print(f"\nFULL load, PostgreSQL -> local parquet, {args.rows:,} rows, median of {args.repeat},"
          " whole process")
    print(f"{'backend':<12} {'rows':>10} {'seconds':>8} {'rows/s':>10} {'peak RSS MB':>12}  types")
    for backend, rows, wall, rate, rss, schema in rows_out:
        types = ", ".join(f"{k}:{v}" for k, v in schema.items())
        print(f"{backend:<12} {rows:>10,} {wall:>8.2f} {rate:>10,.0f} {rss:>12.0f}  {types}")
    print(f"\nreproduce: python -m bench.full_load --rows {args.rows} --repeat {args.repeat}"
          f" --backends {args.backends}")


if __name__ == "__main__":
    main()

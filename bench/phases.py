"""Where a warm incremental job's time goes: each step timed without a profiler (cProfile
tripled the share of pure-Python work and sent the first round after the wrong cause).

    python -m bench.phases [--rows 5000000] [--new-rows 50000] [--runs 3]

Starts its own PostgreSQL, loads the table once in this process (warm), then --runs times:
appends --new-rows rows and runs the incremental job, printing the time of each step. Not a
test; the figures go into issue notes and the README's performance section."""

from __future__ import annotations

import argparse
import collections
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.fixed_cost import time_calls  # noqa: E402
from bench.run import NEW_ROWS_SQL, create_table, psql  # noqa: E402
from tests.services import start_postgres  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--new-rows", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    from ingest.lake.dlt_defaults import apply_dlt_defaults

    apply_dlt_defaults()
    pg = start_postgres()
    try:
        table = f"bench_{args.rows}"
        create_table(pg.url(), table, args.rows)
        os.environ["SOURCES__BENCH__CREDENTIALS"] = pg.url()
        timings = _instrument()
        from ingest.config.model import JobConfig, LoadType, SourceType
        from ingest.load import run_job
        from ingest.plan.planner import new_run_context
        from ingest.core.settings import Settings

        workdir = Path(tempfile.mkdtemp(prefix="bench-phases-"))
        settings = Settings(destination=str(workdir / "lake"), pipelines_dir=workdir / "pipelines",
                            audit_dir=workdir / "audit")
        job = JobConfig(job_name=table, enabled=True, source_type=SourceType.POSTGRES, connection="bench",
                        source_table=table, source_schema="public", load_type=LoadType.INCREMENTAL,
                        watermark_column="updated_at")
        started = time.perf_counter()
        first = run_job(job, new_run_context(), settings)
        print(f"first load: {first.rows_processed:,} rows in {time.perf_counter() - started:.2f} s")
        for _ in range(args.runs):
            psql(pg.url(), NEW_ROWS_SQL.format(table=table, rows=args.new_rows))
            timings.clear()
            started = time.perf_counter()
            result = run_job(job, new_run_context(), settings)
            total = time.perf_counter() - started
            steps = ", ".join(f"{name} {seconds * 1000:.0f}" for name, seconds in timings.items())
            print(f"incremental: {result.rows_processed:,} rows in {total * 1000:.0f} ms ({steps}; ms)")
    finally:
        pg.stop()
    print(f"reproduce: python -m bench.phases --rows {args.rows} --new-rows {args.new_rows} --runs {args.runs}")


def _instrument() -> dict[str, float]:
    """Wrap the job's steps (ours and dlt's pipeline methods) with wall-clock timers."""
    import dlt
    from dlt.pipeline.pipeline import Pipeline

    import ingest.load as load
    from ingest.checks import post_load

    timings: dict[str, float] = collections.defaultdict(float)

    def timed(owner: object, name: str, label: str) -> None:
        time_calls(timings, owner, name, label)

    timed(dlt, "pipeline", "dlt.pipeline")
    for name in ("open_source", "_repair_lake", "_check_rowcount"):
        timed(load, name, name.lstrip("_"))
    timed(post_load, "before_load", "drift before")
    timed(post_load, "after_load", "drift after")
    for name in ("sync_destination", "extract", "normalize", "load"):
        timed(Pipeline, name, name)
    return timings


if __name__ == "__main__":
    main()

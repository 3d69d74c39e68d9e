"""CDC initial snapshot, one stream against parallel chunks (chunk_size on the row;
ingest/sources/postgres_cdc/snapshot_chunks.py), on a throwaway PostgreSQL (tests/services.py):
N rows of the bench's CDC table (id, numeric, text, timestamptz), each run a new slot and a new
lake, alternating the ways, wall time of the whole connection load (slot, snapshot, dlt load).

    .venv/bin/python -m bench.cdc_snapshot [N] [repeat] [chunks,...]    # default 2,000,000 3 4
"""

from __future__ import annotations

import dataclasses
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def _settings(workers: int) -> Any:
    from ingest.core.settings import Settings

    base = Path(tempfile.mkdtemp(prefix="cdc-snapshot-bench-"))
    return Settings(destination=str(base / "lake"), audit_dir=base / "audit", log_dir=base / "logs",
                    pipelines_dir=base / "pipelines", worker_mode="thread", max_workers=workers)


def _one(pg: Any, chunks: int, fmt: str) -> tuple[float, int]:
    from ingest.config.model import ChunkSize
    from tests.cdc_helpers import cdc_job, load, sql

    job = cdc_job("b", "bench", "public", "b", fmt)
    if chunks > 1:
        job = dataclasses.replace(job, chunk_size=ChunkSize(chunks, "chunks"))
    clock = time.perf_counter()
    result = load([job], _settings(2))["b"]
    seconds = time.perf_counter() - clock
    assert result.succeeded, result.error_message
    sql(pg, "SELECT pg_drop_replication_slot('ingest_cdc_bench'); DROP PUBLICATION ingest_cdc_bench")
    return seconds, result.cdc["snapshot_rows"]


def main(total: int, repeat: int, chunk_counts: list[int], fmt: str = "parquet") -> None:
    from ingest.lake.dlt_defaults import apply_dlt_defaults
    from tests.cdc_helpers import sql
    from tests.services import start_postgres

    apply_dlt_defaults()
    pg = start_postgres()
    try:
        os.environ["SOURCES__BENCH__CREDENTIALS"] = pg.url()
        sql(pg, "CREATE TABLE public.b (id int PRIMARY KEY, amount numeric(12,2), note text, at timestamptz);"
                f" INSERT INTO b SELECT g, g / 100.0, 'note ' || g, now() + g * interval '1 microsecond'"
                f" FROM generate_series(1, {total}) g; ANALYZE b")
        ways = [1, *chunk_counts]
        times: dict[int, list[float]] = {way: [] for way in ways}
        for _ in range(repeat):
            for way in ways:
                seconds, rows = _one(pg, way, fmt)
                assert rows == total, (way, rows)
                times[way].append(seconds)
    finally:
        pg.stop()
    base = statistics.median(times[1])
    print(f"\nCDC snapshot of {total:,} rows, {fmt}, median of {repeat} (2 workers):")
    print("| way | wall s | rows/s | vs one stream |\n|---|---|---|---|")
    for way in ways:
        median = statistics.median(times[way])
        name = "one stream" if way == 1 else f"{way} chunks"
        print(f"| {name} | {median:.1f} | {total / median:,.0f} | {base / median:.2f}x |")
    print(f"\nreproduce: .venv/bin/python -m bench.cdc_snapshot {total} {repeat} {','.join(map(str, chunk_counts))}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2_000_000, int(sys.argv[2]) if len(sys.argv) > 2 else 3,
         [int(c) for c in sys.argv[3].split(",")] if len(sys.argv) > 3 else [4])

"""CDC bench: changes landed per second for N mixed changes (inserts, updates, deletes in the
ratio 5:3:2) on Delta and parquet, on a throwaway PostgreSQL (tests/services.py).

    .venv/bin/python -m bench.cdc_bench [N]        # default 1,000,000
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path


def main(total: int) -> None:
    from ingest.core.settings import Settings
    from ingest.lake.dlt_defaults import apply_dlt_defaults
    from tests.cdc_helpers import cdc_job, load, sql
    from tests.services import start_postgres

    apply_dlt_defaults()
    pg = start_postgres()
    try:
        os.environ["SOURCES__BENCH__CREDENTIALS"] = pg.url()
        inserts, updates, deletes = total * 5 // 10, total * 3 // 10, total * 2 // 10
        for fmt in ("delta", "parquet"):
            base = Path(tempfile.mkdtemp(prefix=f"cdc-bench-{fmt}-"))
            settings = Settings(destination=str(base / "lake"), audit_dir=base / "audit", log_dir=base / "logs",
                                pipelines_dir=base / "pipelines", worker_mode="thread")
            sql(pg, f"DROP TABLE IF EXISTS public.b; CREATE TABLE public.b (id int PRIMARY KEY, amount numeric(12,2),"
                    " note text, at timestamptz)")
            job = cdc_job("b", "bench", "public", "b", fmt)
            assert load([job], settings)["b"].succeeded
            sql(pg, f"INSERT INTO b SELECT g, g / 100.0, 'note ' || g, now() FROM generate_series(1, {inserts}) g;"
                    f" UPDATE b SET amount = amount + 1 WHERE id <= {updates};"
                    f" DELETE FROM b WHERE id > {inserts - deletes}")
            clock = time.perf_counter()
            result = load([job], settings, 2)["b"]
            seconds = time.perf_counter() - clock
            assert result.succeeded, result.error_message
            changes = result.cdc["changes"]
            print(f"{fmt}: {changes} changes in {seconds:.1f} s = {changes / seconds:,.0f} changes/s"
                  f" ({result.cdc['batches']} batches)")
            sql(pg, "SELECT pg_drop_replication_slot('ingest_cdc_bench'); DROP PUBLICATION ingest_cdc_bench")
    finally:
        pg.stop()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)

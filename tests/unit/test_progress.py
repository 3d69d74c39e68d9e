"""Progress output with a fake clock: plain lines throttled per job, the terminal's one
redrawn status line, and the dlt collector counting only the job's own extracted rows."""

from __future__ import annotations

import copy
import io
from datetime import datetime

from ingest.core.progress import Progress, _JobCollector


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def make(tty: bool, interval: float = 10.0):
    out, clock = io.StringIO(), Clock()
    return out, clock, Progress(out, tty=tty, interval_s=interval, clock=clock, wall=lambda: datetime(2026, 1, 5, 12, 0, 3))


def test_plain_lines_at_most_one_per_job_per_interval():
    out, clock, progress = make(tty=False)
    progress.run_started(2)
    for t, job in ((0, "orders"), (4, "orders"), (6, "customers"), (10.5, "orders"), (12, "orders"), (21, "orders")):
        clock.now = t
        progress.rows_extracted(job, 100_000)
    progress.job_finished("orders", "succeeded", 500_000, 21.04)
    assert out.getvalue().splitlines() == [
        "[12:00:03] 2 job(s) to load",
        "[12:00:03] orders: 300,000 rows",
        "[12:00:03] orders: 500,000 rows",
        "[12:00:03] orders: succeeded, 500,000 rows in 21.0 s (1/2 jobs done)",
    ]
    assert "\r" not in out.getvalue() and "\x1b" not in out.getvalue()


def test_a_terminal_gets_one_status_line_redrawn_in_place():
    out, clock, progress = make(tty=True)
    progress.run_started(2)
    progress.rows_extracted("orders", 1_000)
    clock.now = 0.1
    progress.rows_extracted("orders", 1_000)  # too soon: not redrawn
    clock.now = 0.5
    progress.rows_extracted("customers", 10)
    progress.job_finished("customers", "failed", 0, 0.4)
    progress.close()
    text = out.getvalue()
    assert text.count("\r[12:00:03] 0/2 jobs done") == 2
    assert "\r[12:00:03] 0/2 jobs done, 1,000 rows | loading orders 1,000\x1b[K" in text
    assert "\r[12:00:03] 0/2 jobs done, 2,010 rows | loading customers 10, orders 2,000\x1b[K" in text
    # the finished job's line replaces the status line, which is drawn again below it
    assert ("\r\x1b[K[12:00:03] customers: failed, 0 rows in 0.4 s (1/2 jobs done)\n"
            "\r[12:00:03] 1/2 jobs done, 2,000 rows | loading orders 2,000\x1b[K") in text
    assert text.endswith("\r\x1b[K")  # cleared at the end, the summary prints on a clean line


def test_the_collector_counts_the_jobs_table_during_extract_only():
    out, clock, progress = make(tty=False, interval=0)
    collector = _JobCollector(progress, "orders_job", "orders")
    with collector("Extract ingest_orders_job"):
        collector.update("orders", inc=1000)
        collector.update("_dlt_pipeline_state", inc=1)
        collector.update("Resources", inc=1, label="Completed")
    copied = copy.deepcopy(collector)  # dlt copies a pipeline's collector: it reports to the same place
    with copied("Extract ingest_orders_job"):
        copied.update("orders", inc=500)
    with collector("Normalize ingest_orders_job in 123"):
        collector.update("Items", inc=1500)
        collector.update("orders", inc=1500)
    assert progress.loading == {"orders_job": 1500}

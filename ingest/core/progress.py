"""Progress of a local run on the console: rows extracted so far per job and jobs done.

Rows come from dlt itself: a job's pipeline gets a dlt Collector (`collector(job_name)`), and
dlt's extract step reports every batch it writes (`update(table, inc=rows)`), an arrow batch
of INGEST_CHUNK_SIZE rows from a SQL source, a page from an API. The runner reports jobs done.

- On a terminal: one status line, redrawn in place at most 5 times a second
  (`[12:00:03] 2/5 jobs done, 1,234,567 rows | loading orders 200,000, customers 10,000`),
  and a permanent line when a job ends.
- Otherwise (cron, CI, a pipe): plain lines, at most one per job every INGEST_PROGRESS_INTERVAL_S
  seconds (`[12:00:03] orders: 200,000 rows`), and one when a job ends.

Only `python -m ingest run` turns it on (`activate`); the Azure app never does, and then
`collector()` returns None (dlt's null collector) and the hooks do nothing."""

from __future__ import annotations

import contextlib
import shutil
import threading
import time
from datetime import datetime
from typing import Callable, Iterator, TextIO

from dlt.common.runtime.collector_base import Collector

from ingest.core.printable import raw_stream

TTY_REFRESH_S = 0.2
_active: "Progress | None" = None


class Progress:
    def __init__(self, stream: TextIO, *, tty: bool | None = None, interval_s: float = 10.0,
                 clock: Callable[[], float] = time.monotonic, wall: Callable[[], datetime] = datetime.now):
        self.stream = raw_stream(stream)  # its own \x1b[K codes must reach the terminal as codes
        self.tty = stream.isatty() if tty is None else tty
        self.interval_s, self.clock, self.wall = interval_s, clock, wall
        self.jobs_total = self.jobs_done = self.rows_done = 0
        self.loading: dict[str, int] = {}
        self._last_line: dict[str, float] = {}
        self._last_draw = float("-inf")
        self._drawn = False
        self._lock = threading.Lock()

    # -- events ---------------------------------------------------------------------------
    def run_started(self, jobs_total: int) -> None:
        with self._lock:
            self.jobs_total = jobs_total
            self._line(f"{jobs_total:,} job(s) to load")

    def rows_extracted(self, job_name: str, rows: int) -> None:
        with self._lock:
            now = self.clock()
            self._last_line.setdefault(job_name, now)
            self.loading[job_name] = self.loading.get(job_name, 0) + rows
            if self.tty:
                if now - self._last_draw >= TTY_REFRESH_S:
                    self._draw_status(now)
            elif now - self._last_line[job_name] >= self.interval_s:
                self._last_line[job_name] = now
                self._line(f"{job_name}: {self.loading[job_name]:,} rows")

    def job_finished(self, job_name: str, status: str, rows: int, duration_s: float) -> None:
        with self._lock:
            self.loading.pop(job_name, None)
            self._last_line.pop(job_name, None)
            self.jobs_done += 1
            self.rows_done += rows
            self._line(f"{job_name}: {status}, {rows:,} rows in {duration_s:.1f} s"
                       f" ({self.jobs_done}/{self.jobs_total} jobs done)")
            if self.tty:
                self._draw_status(self.clock())

    def chunk_finished(self, job_name: str, done: int, total: int) -> None:
        with self._lock:
            self._line(f"{job_name}: {done}/{total} chunks done")
            if self.tty:
                self._draw_status(self.clock())

    def close(self) -> None:
        with self._lock:
            if self._drawn:
                self.stream.write("\r\x1b[K")
                self.stream.flush()
                self._drawn = False

    # -- output ---------------------------------------------------------------------------
    def _stamp(self) -> str:
        return f"[{self.wall():%H:%M:%S}]"

    def _line(self, text: str) -> None:
        """A permanent line (on a terminal: above the status line, which is redrawn after)."""
        prefix = "\r\x1b[K" if self.tty and self._drawn else ""
        self._drawn = False
        self.stream.write(f"{prefix}{self._stamp()} {text}\n")
        self.stream.flush()

    def status_text(self) -> str:
        rows = self.rows_done + sum(self.loading.values())
        text = f"{self._stamp()} {self.jobs_done}/{self.jobs_total} jobs done, {rows:,} rows"
        if self.loading:
            text += " | loading " + ", ".join(f"{name} {count:,}" for name, count in sorted(self.loading.items()))
        return text

    def _draw_status(self, now: float) -> None:
        width = shutil.get_terminal_size((100, 24)).columns
        text = self.status_text()
        if len(text) > width - 1:
            text = text[: max(width - 4, 10)] + "..."
        self.stream.write(f"\r{text}\x1b[K")
        self.stream.flush()
        self._drawn, self._last_draw = True, now


class _JobCollector(Collector):
    """What dlt's pipeline calls during extract, normalize and load; only the rows extracted
    into the job's own table count (not dlt's state table, nor normalize's and load's counters)."""

    def __init__(self, progress: Progress, job_name: str, table_name: str):
        self.progress, self.job_name, self.table_name = progress, job_name, table_name
        self.step = ""

    def update(self, name: str, inc: int = 1, total: int | None = None, inc_total: int | None = None,
               message: str | None = None, label: str | None = None) -> None:
        if self.step.startswith("Extract") and name == self.table_name and not label and inc > 0:
            self.progress.rows_extracted(self.job_name, inc)

    def _start(self, step: str) -> None:
        self.step = step

    def _stop(self) -> None:
        self.step = ""

    def __deepcopy__(self, memo: dict) -> "_JobCollector":  # dlt copies a pipeline's collector
        return _JobCollector(self.progress, self.job_name, self.table_name)


@contextlib.contextmanager
def activate(progress: Progress) -> Iterator[Progress]:
    """Report this process's loads to `progress` until the block ends."""
    global _active
    _active = progress
    try:
        yield progress
    finally:
        _active = None
        progress.close()


def collector(job_name: str, table_name: str) -> Collector | None:
    """The dlt collector for a job's pipeline (`dlt.pipeline(progress=...)`); None when off."""
    progress = _active
    return None if progress is None else _JobCollector(progress, job_name, table_name)


class _Forwarder:
    """In a job's worker process (ingest/drivers/local/job_processes.py): rows extracted go to the parent,
    which owns the console and draws one status line for every job."""

    def __init__(self, send: Callable[[str, int], None]):
        self.send = send

    def rows_extracted(self, job_name: str, rows: int) -> None:
        self.send(job_name, rows)


def forward_from_child(send: Callable[[str, int], None]) -> None:
    """Called in a job's worker process right after the fork, when progress is on."""
    global _active
    if _active is not None:
        _active = _Forwarder(send)  # type: ignore[assignment]


def rows_extracted(job_name: str, rows: int) -> None:
    """Rows a job's worker process reported (the parent side of `forward_from_child`)."""
    if _active is not None:
        _active.rows_extracted(job_name, rows)


def run_started(jobs_total: int) -> None:
    if _active is not None:
        _active.run_started(jobs_total)


def chunk_finished(job_name: str, done: int, total: int) -> None:
    """A chunk of a chunked load ended (ingest/drivers/local/runner.py)."""
    if _active is not None and hasattr(_active, "chunk_finished"):
        _active.chunk_finished(job_name, done, total)


def job_finished(result) -> None:  # result: ingest.core.result.JobResult
    if _active is not None:
        _active.job_finished(result.job_name, result.status.value, result.rows_processed, result.duration_s)

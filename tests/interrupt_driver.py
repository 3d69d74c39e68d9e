"""`python -m ingest run` in a fresh process with a marker at a chosen phase of a load, for
tests/integration/test_interrupts.py to interrupt it there (a signal from the test) or to die
there (SIGKILL of its own):

    python tests/interrupt_driver.py <workbook> extract|load|kill-before-record|none [--json]

- `extract`: each batch of rows the job extracts waits 20 ms (a source that streams slowly: a
  large table over a slow link), and the marker file appears with its first batch: the test's
  signal lands while rows are still being read, before dlt's load step.
- `load`: the marker appears when dlt's load step (the commit) of a job begins, which then
  waits 2 s before copying its files: the test's signal lands while the commit is under way.
- `kill-before-record`: the runner kills itself with SIGKILL after every job's load committed
  and before the run records them (the fan-in step), as `kill -9` or the OOM killer would.

The marker file is the env INTERRUPT_MARKER; nothing else of the app is changed.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import dlt  # noqa: E402

import ingest.load  # noqa: E402


def mark() -> None:
    Path(os.environ["INTERRUPT_MARKER"]).touch()


def slow_extract() -> None:
    real = ingest.load.apply_table_format

    def slowed(resource, job, day):  # the resource every plain load reads through (ingest/load.py)
        def slow(batch):
            mark()
            time.sleep(0.02)
            return batch

        resource.add_map(slow)
        return real(resource, job, day)

    ingest.load.apply_table_format = slowed


def slow_load_step() -> None:
    real = dlt.Pipeline.load

    def load(self, *args, **kwargs):
        # a job's commit that has something to copy (not the runner's warm-up: ingest/drivers/local/warm_up.py)
        if self.pipeline_name != "ingest_warm_up" and self.list_normalized_load_packages():
            mark()
            time.sleep(2)
        return real(self, *args, **kwargs)

    dlt.Pipeline.load = load


def kill_before_record() -> None:
    import ingest.drivers.local.runner as runner

    def finalize_run(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)

    runner.finalize_run = finalize_run


def main() -> int:
    book, fault = sys.argv[1], sys.argv[2]
    {"extract": slow_extract, "load": slow_load_step, "kill-before-record": kill_before_record,
     "none": lambda: None}[fault]()
    from ingest.cli import main as cli_main

    return cli_main(["run", "--config", book, "--no-progress", *sys.argv[3:]])


if __name__ == "__main__":
    sys.exit(main())
